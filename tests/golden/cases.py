"""Golden runs: configs whose metrics and summary must not change when the code is reorganized.

``record.py`` trains every case and writes ``runs.json`` with the numbers and the machine they
were recorded on; ``tests/test_golden.py`` trains them again and compares.
"""

# A small, quick base: an MLP on MNIST-1D for 2 epochs (112 updates), one thread.
BASE = [
    "model.name=mlp",
    "model.hidden=[32,32]",
    "model.norm=none",
    "model.dropout=0",
    "train.epochs=2",
    "train.checkpoint_seconds=0",
    "optimizer.name=sgd",
    "optimizer.lr=0.05",
    "optimizer.momentum=0.9",
    "optimizer.weight_decay=0",
    "schedule.name=constant",
]

CASES = {
    "default recipe": None,  # the default config itself (the BN CNN), 3 epochs
    "dropout inverted": ["model.dropout=0.3"],
    "dropout original": [
        "model.dropout=0.3",
        "model.dropout_mode=original",
        "model.input_dropout=0.1",
    ],
    "input noise": ["regularization.input_noise=0.3"],
    "weight noise": ["regularization.weight_noise=0.02"],
    "hidden noise": ["model.hidden_noise=0.2"],
    "augmentation": ["augment.shift=3", "augment.stretch=0.1", "augment.noise=0.05"],
    "gradient noise": ["gradient_noise.eta=0.01"],
    "clip value": ["gradient_clip.max_value=0.05"],
    "clip norm": ["gradient_clip.max_norm=0.5", "gradient_noise.eta=0.01"],
    "auxiliary heads": ["loss.aux_weight=0.3"],
    "penalties": [
        "regularization.l2=0.001",
        "regularization.l1=0.0001",
        "regularization.exclude_bias_and_norm=true",
    ],
    "losses": [
        "loss.name=mse",
        "loss.label_smoothing=0.1",
        "loss.target_noise=0.05",
        "optimizer.lr=0.5",
    ],
    "confidence penalty": ["loss.confidence_penalty=0.1"],
    "batch norm population": ["model.norm=batch", "model.bn_stats=population"],
    "layer norm": ["model.norm=layer"],
    "warm-up and cosine": ["schedule.name=cosine", "schedule.warmup_epochs=0.5"],
    "plateau": ["schedule.name=plateau", "schedule.patience=0", "train.epochs=3"],
    "early stopping": [
        "early_stopping.patience=1",
        "early_stopping.min_delta=0.5",
        "train.epochs=4",
    ],
    "nesterov": ["optimizer.name=nesterov"],
    "adagrad": ["optimizer.name=adagrad"],
    "rmsprop": ["optimizer.name=rmsprop", "optimizer.lr=0.001"],
    "adadelta": ["optimizer.name=adadelta", "optimizer.lr=1.0"],
    "adam": ["optimizer.name=adam", "optimizer.lr=0.003"],
    "adamw": ["optimizer.name=adamw", "optimizer.lr=0.003", "optimizer.weight_decay=0.05"],
    "rprop-": [
        "optimizer.name=rprop",
        "optimizer.lr=0.001",
        "train.batch_size=full",
        "train.epochs=5",
    ],
    "irprop+": [
        "optimizer.name=rprop",
        "optimizer.variant=irprop+",
        "optimizer.lr=0.001",
        "train.batch_size=full",
        "train.epochs=5",
    ],
    "rprop+": [
        "optimizer.name=rprop",
        "optimizer.variant=rprop+",
        "optimizer.lr=0.001",
        "train.batch_size=500",
    ],
    "quickprop": [
        "optimizer.name=quickprop",
        "optimizer.lr=0.01",
        "train.batch_size=full",
        "train.epochs=5",
    ],
    "swats": ["optimizer.name=swats", "optimizer.lr=0.003"],
    "adam then sgd": [
        "optimizer.name=adam",
        "optimizer.lr=0.003",
        "train.switch_to_sgd_at=2",
        "optimizer.sgd_lr=0.05",
        "train.epochs=3",
    ],
    "online gd": [
        "train.batch_size=1",
        "optimizer.lr=0.005",
        "data.name=moons",
        "data.samples=1000",
    ],  # 200 test samples: one flip moves accuracy by 0.005
    "rnn": [
        "model.name=rnn",
        "model.hidden=[16]",
        "model.init_recurrent=identity",
        "model.init=he_normal",
        "optimizer.lr=0.01",
        "gradient_clip.max_norm=1",
    ],
    "gru": ["model.name=gru", "model.hidden=[16]", "optimizer.name=adam", "optimizer.lr=0.01"],
    "lstm": [
        "model.name=lstm",
        "model.hidden=[16,16]",
        "model.dropout=0.2",
        "optimizer.name=adam",
        "optimizer.lr=0.01",
    ],
    "cnn with everything": [
        "model.name=cnn1d",
        "model.channels=[8,8]",
        "model.norm=batch",
        "model.dropout=0.1",
        "augment.shift=2",
        "loss.aux_weight=0.2",
        "regularization.weight_noise=0.01",
        "optimizer.name=adamw",
        "optimizer.lr=0.003",
        "schedule.name=one_cycle",
    ],
}

SUMMARY_KEYS = (
    "test_loss",
    "test_accuracy",
    "best_epoch",
    "best_val_accuracy",
    "best_val_loss",
    "monitor",
    "epochs_run",
    "stopped_early",
    "diverged",
    "diverged_at_epoch",
    "evaluated",
    "parameters",
    "switched_to_sgd_after_step",
    "sgd_lr",
)


# BASE's keys that a case's own optimizer or model does not read: left out for that case (they
# were ignored when the numbers were recorded; trainlab refuses a key that does not apply).
NOT_READ = {
    "optimizer.momentum=0.9": ("optimizer.name=", ("sgd", "nesterov", "rmsprop")),
    "model.norm=none": ("model.name=", ("mlp", "cnn1d")),
    "model.hidden=[32,32]": ("model.name=", ("mlp", "rnn", "gru", "lstm")),
}


def overrides(name: str) -> list[str]:
    if CASES[name] is None:
        return ["train.epochs=3"]
    case = CASES[name]

    def applies(key: str) -> bool:
        if key not in NOT_READ:
            return True
        prefix, readers = NOT_READ[key]
        chosen = [o[len(prefix) :] for o in case if o.startswith(prefix)]
        return not chosen or chosen[-1] in readers

    return [o for o in BASE if applies(o)] + case
