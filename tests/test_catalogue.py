"""Every optimizer, schedule, loss, initialization and regularizer of the catalogue, through a
short real training on MNIST-1D: finite loss, and it learns: the validation loss ends below the
untrained model's (same seed, same weights), and the test accuracy is above chance (10%) by a
margin: 0.25 is over 15 standard deviations of a chance-level accuracy on the 1000 test samples
(sqrt(0.1 * 0.9 / 1000) = 0.0095). The slowest learners here are adadelta and Adam with gradient
noise (0.27 and 0.29 after 5 epochs); the rest reach 0.3 or more."""

import json
import math

import pytest

import trainlab
from trainlab import build
from trainlab.config import resolve
from trainlab.training.loop import evaluate

pytestmark = pytest.mark.slow  # every case is a real training run on MNIST-1D

BASE = [
    "model.name=mlp",
    "model.hidden=[64, 64]",
    "model.norm=none",
    "model.dropout=0",
    "train.epochs=5",
    "train.batch_size=64",
    "optimizer.weight_decay=0",
    "schedule.name=constant",
    "optimizer.lr=0.003",
    "optimizer.name=adam",
]
FULL = ["train.batch_size='full'", "train.epochs=25"]

CASES = {
    "sgd": ["optimizer.name=sgd", "optimizer.lr=0.1"],
    "momentum": ["optimizer.name=sgd", "optimizer.lr=0.05", "optimizer.momentum=0.9"],
    "nesterov": [
        "optimizer.name=sgd",
        "optimizer.lr=0.05",
        "optimizer.momentum=0.9",
        "optimizer.nesterov=true",
    ],
    "adagrad": ["optimizer.name=adagrad", "optimizer.lr=0.03"],
    "rmsprop": ["optimizer.name=rmsprop", "optimizer.lr=0.001"],
    # the slides' forms (lectures 000 and 002)
    "momentum, lecture form": [
        "optimizer.name=sgd",
        "optimizer.lr=0.05",
        "optimizer.momentum=0.9",
        "optimizer.momentum_form=lecture",
        "schedule.name=cosine",
    ],
    "nesterov, lecture form": [
        "optimizer.name=nesterov",
        "optimizer.lr=0.05",
        "optimizer.momentum_form=lecture",
        "schedule.name=cosine",
    ],
    "rmsprop, eps inside the root": [
        "optimizer.name=rmsprop",
        "optimizer.lr=0.001",
        "optimizer.eps_inside_sqrt=true",
    ],
    "adam without bias correction": ["optimizer.bias_correction=false"],
    "adadelta": ["optimizer.name=adadelta", "optimizer.lr=1.0"],
    "adamw": ["optimizer.name=adamw", "optimizer.weight_decay=0.01"],
    "irprop-": ["optimizer.name=rprop", "optimizer.lr=0.001", *FULL],
    "rprop-": ["optimizer.name=rprop", "optimizer.variant=rprop-", "optimizer.lr=0.001", *FULL],
    "rprop+": ["optimizer.name=rprop", "optimizer.variant=rprop+", "optimizer.lr=0.001", *FULL],
    "irprop+": ["optimizer.name=rprop", "optimizer.variant=irprop+", "optimizer.lr=0.001", *FULL],
    "quickprop": ["optimizer.name=quickprop", "optimizer.lr=0.05", *FULL],
    "swats": ["optimizer.name=swats"],
    "adam then sgd": ["train.switch_to_sgd_at=2", "optimizer.sgd_lr=0.05"],
    "gradient noise": ["gradient_noise.eta=0.01"],
    "clip value": ["gradient_clip.max_value=5"],
    "clip norm": ["gradient_clip.max_norm=1"],
    "step": ["schedule.name=step", "schedule.step_size=1", "schedule.gamma=0.5"],
    "exponential": ["schedule.name=exponential", "schedule.gamma=0.8"],
    "inverse_time": ["schedule.name=inverse_time"],
    "linear": ["schedule.name=linear"],
    "plateau": ["schedule.name=plateau", "schedule.patience=0"],
    "cosine": ["schedule.name=cosine"],
    "one_cycle": ["schedule.name=one_cycle", "optimizer.lr=0.01"],
    "warmup": ["schedule.name=cosine", "schedule.warmup_epochs=1"],
    "mse": ["loss.name=mse", "optimizer.lr=0.01"],
    "bce": ["loss.name=binary_cross_entropy"],
    "kl": ["loss.name=kl", "loss.label_smoothing=0.1"],
    "hinge": ["loss.name=hinge"],
    "label smoothing": ["loss.label_smoothing=0.1"],
    "confidence penalty": ["loss.confidence_penalty=0.1"],
    "target noise": ["loss.name=mse", "optimizer.lr=0.01", "loss.target_noise=0.1"],
    "aux heads": ["loss.aux_weight=0.3"],
    "l2": ["regularization.l2=0.001"],
    "l1": ["regularization.l1=0.0001", "regularization.exclude_bias_and_norm=true"],
    "input noise": ["regularization.input_noise=0.1"],
    "weight noise": ["regularization.weight_noise=0.01"],
    "hidden noise": ["model.hidden_noise=0.1"],
    "dropout": ["model.dropout=0.2", "model.input_dropout=0.1"],
    "original dropout": ["model.dropout=0.2", "model.dropout_mode=original"],
    "batch norm population": ["model.norm=batch", "model.bn_stats=population"],
    "layer norm": ["model.norm=layer"],
    "augment": ["augment.shift=3", "augment.stretch=0.1", "augment.noise=0.05"],
    "early stopping": ["early_stopping.patience=1", "early_stopping.monitor=val_loss"],
    "l1 activations": ["regularization.l1_activations=0.0001"],
    "l2 per layer": ["regularization.l2_per_layer=[0.001, 0.001, 0.0001]"],
    "norm on selected layers": ["model.norm=batch", "model.norm_layers=[1]"],
    "confidence threshold": ["loss.confidence_penalty=0.1", "loss.confidence_threshold=1.0"],
    "unigram smoothing": ["loss.label_smoothing=0.1", "loss.smoothing_prior=unigram"],
    "cnn sum overlapping pooling": [
        "model.name=cnn1d",
        "model.channels=[16, 16]",
        "model.pool=sum",
        "model.pool_size=3",
    ],
    "cnn maxout contrast norm": [
        "model.name=cnn1d",
        "model.channels=[16, 16]",
        "model.maxout_pieces=2",
        "model.contrast_norm=5",
    ],
    "lecun": ["model.init=lecun"],
    "glorot_normal": ["model.init=glorot_normal"],
    "he_uniform": ["model.init=he_uniform"],
    "orthogonal": ["model.init=orthogonal"],
    "uniform": ["model.init=uniform"],
    "gru identity": [
        "model.name=gru",
        "model.hidden=[32]",
        "model.init_recurrent=identity",
        "optimizer.lr=0.01",
        "train.epochs=4",
    ],
}


@pytest.mark.parametrize("name", list(CASES))
def test_technique_trains_on_mnist1d(name, tmp_path):
    config = resolve(None, CASES[name], presets=BASE)
    splits = build.load_data(config)
    parts = build.parts(config, splits)  # the run's own starting weights: build seeds them
    untrained, _ = evaluate(parts.model, splits.x_val, splits.y_val, parts.loss_fn)
    s = trainlab.train(config, out=tmp_path / "run", progress="quiet")
    assert not s["diverged"] and math.isfinite(s["test_loss"])
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    best = min(r["val_loss"] for r in rows)
    assert best < 0.9 * untrained, (best, untrained)  # it learns ...
    assert s["test_accuracy"] > 0.25, s["test_accuracy"]  # ... and generalizes (chance: 0.1)
