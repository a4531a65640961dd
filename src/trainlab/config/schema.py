"""The run configuration: every key, its default, what it means, and what values it allows.

A config is a nested dict (TOML tables). It is resolved in three layers, each over the last:
the defaults below, a TOML file, and dotted ``key=value`` overrides whose values are read as TOML
(``model.hidden=[256,256]``, ``train.shuffle=false``, ``optimizer.lr=1e-3``).
Every key is checked here, once, before anything runs: an unknown key (with the closest known
one suggested), a wrong type or a value out of range is a :class:`UserError` naming the key,
the value and what is allowed.

The default config is lecture 000's recipe ("Setting up a problem": data -> architecture ->
divergence -> regularization -> heuristics -> optimizer -> train with periodic validation and
early stopping) instantiated for MNIST-1D.
"""

from __future__ import annotations

import copy
import difflib
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import tomli_w

from ..errors import UserError

# Names that components register; kept here so that validation and `trainlab config` list them.
DATA_NAMES = ("mnist1d", "moons", "circles", "spirals", "xor", "npz", "csv", "mnist",
              "fashion_mnist", "cifar10")
MODEL_NAMES = ("cnn1d", "cnn2d", "mlp", "linear", "rnn", "gru", "lstm")
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid")
INITS = ("default", "zeros", "constant", "normal", "uniform", "lecun", "glorot_uniform",
         "glorot_normal", "he_normal", "he_uniform", "orthogonal")
NORMS = ("none", "batch", "layer")
LOSSES = ("cross_entropy", "mse", "binary_cross_entropy", "kl", "hinge")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam", "adamw",
              "rprop", "quickprop", "swats")
SCHEDULES = ("constant", "step", "exponential", "inverse_time", "linear", "plateau", "cosine",
             "one_cycle")
MONITORS = ("val_accuracy", "val_loss", "train_accuracy", "train_loss")


@dataclass(frozen=True)
class Key:
    """One config key: default, one-line meaning, and an optional extra check."""

    default: Any
    doc: str
    choices: tuple | None = None
    check: Callable[[Any], str | None] | None = None  # returns what is allowed, or None if ok
    types: tuple = field(default=())  # accepted types when more than the default's type


def _positive(v):
    return None if v > 0 else "a number > 0"


def _non_negative(v):
    return None if v >= 0 else "a number >= 0"


def _unit_open(v):
    return None if 0 <= v < 1 else "a number in [0, 1)"


def _fraction(v):
    return None if 0 < v < 1 else "a number in (0, 1)"


def _widths(v):
    ok = all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in v)
    return None if ok else "a list of positive integers"


def _batch_size(v):
    if v == "full" or (isinstance(v, int) and not isinstance(v, bool) and v >= 1):
        return None
    return 'an integer >= 1 (1 = online GD, b = minibatch) or "full" (batch GD)'


def _pair(ok: Callable[[float, float], bool], allowed: str) -> Callable[[list], str | None]:
    def check(v):
        numbers = len(v) == 2 and all(isinstance(e, (int, float)) and not isinstance(e, bool)
                                      for e in v)
        return None if numbers and ok(*v) else allowed
    return check


def _betas(v):
    ok = len(v) == 2 and all(isinstance(b, (int, float)) and 0 <= b < 1 for b in v)
    return None if ok else "two numbers in [0, 1)"


SCHEMA: dict[str, Key] = {
    "seed": Key(0, "seed for weights, data split, toy data, shuffling and dropout",
                check=_non_negative),
    "device": Key("auto", "auto = CUDA when present, else CPU", choices=("auto", "cpu", "cuda")),
    "diagnostics": Key(False, "record per-layer gradient/weight norms, update ratios, activation "
                       "statistics, saturation and dead ReLUs every epoch (diagnostics.jsonl, "
                       "diagnostics.png)"),
    # data
    "data.name": Key("mnist1d", "data set", choices=DATA_NAMES),
    "data.path": Key("", "file (npz, csv) or folder (mnist, fashion_mnist, cifar10) to read"),
    "data.label_column": Key("label", "csv: name of the label column; every other column is a feature"),
    "data.val_fraction": Key(0.1, "fraction of the training data held out for validation (seeded)",
                             check=_fraction),
    "data.test_fraction": Key(0.2, "fraction held out for testing when a source has no test split",
                              check=_fraction),
    "data.normalize": Key("standard", "input normalization fitted on the training split only: "
                          "standard = per-feature zero mean and unit variance, "
                          "scalar = one mean and std for all features, none",
                          choices=("standard", "scalar", "none")),
    "data.samples": Key(1000, "toy sets (moons, circles, spirals, xor): number of points",
                        check=lambda v: None if v >= 10 else "an integer >= 10"),
    "data.noise": Key(0.1, "toy sets: standard deviation of the Gaussian noise on each point",
                      check=_non_negative),
    # model
    "model.name": Key("cnn1d", "architecture", choices=MODEL_NAMES),
    "model.hidden": Key([256, 256], "mlp: hidden layer widths; rnn/gru/lstm: one width per "
                        "recurrent layer", check=_widths),
    "model.channels": Key([32, 32, 64, 64], "cnn1d/cnn2d: channels of each conv block; every "
                          "block after the first halves the length by pooling", check=_widths),
    "model.kernel_size": Key(5, "cnn1d/cnn2d: convolution kernel size (odd, 'same' padding)",
                             check=lambda v: None if v >= 1 and v % 2 == 1 else "an odd integer >= 1"),
    "model.pool": Key("max", "cnn1d/cnn2d: pooling", choices=("max", "avg")),
    "model.activation": Key("relu", "hidden activation (mlp, cnn)", choices=ACTIVATIONS),
    "model.norm": Key("batch", "normalization after each hidden linear/conv layer",
                      choices=NORMS),
    "model.dropout": Key(0.1, "inverted dropout probability after each hidden layer (mlp, cnn, "
                         "between recurrent layers)", check=_unit_open),
    "model.dropout_mode": Key("inverted", "inverted: scale kept units by 1/(1-p) in training "
                              "(PyTorch's); original: no scaling in training, multiply by 1-p at "
                              "test time (lecture 000)", choices=("inverted", "original")),
    "model.input_dropout": Key(0.0, "dropout probability on the inputs (mlp, cnn)",
                               check=_unit_open),
    "model.hidden_noise": Key(0.0, "std of Gaussian noise added to every hidden activation in "
                              "training (mlp, cnn)", check=_non_negative),
    "model.bn_momentum": Key(0.1, "batch norm: running-average momentum (PyTorch's convention)",
                             check=_fraction),
    "model.bn_stats": Key("running", "batch norm at inference: running averages, or population "
                          "statistics recomputed over the training set before each evaluation, "
                          "with the B/(B-1) correction (lecture 000)",
                          choices=("running", "population")),
    "model.init": Key("default", "weight initialization (torch.nn.init); biases start at 0 "
                      "except with default", choices=INITS),
    "model.init_std": Key(1.0, "init = normal: standard deviation", check=_positive),
    "model.init_range": Key(0.1, "init = uniform: weights ~ U(-a, a) with this a",
                            check=_positive),
    "model.init_value": Key(0.01, "init = constant: every weight's value"),
    "model.bias_value": Key(0.0, "initial value of every bias (unless init = default)"),
    "model.init_recurrent": Key("same", "rnn/gru/lstm hidden-to-hidden weights: same as "
                                "model.init, identity (Le et al. 2015) or orthogonal",
                                choices=("same", "identity", "orthogonal")),
    "model.pretrained": Key("", "start from the weights of this run folder (its best.pt) or "
                            "checkpoint file; tensors whose name and shape match are copied"),
    "model.freeze": Key([], "name prefixes of parameters to freeze, e.g. [\"net.0\"]",
                        check=lambda v: None if all(isinstance(x, str) for x in v)
                        else "a list of strings"),
    # loss
    "loss.name": Key("cross_entropy", "divergence between the output and the target "
                     "(trainlab.losses gives each formula)", choices=LOSSES),
    "loss.label_smoothing": Key(0.0, "label smoothing epsilon: target (1 - eps) one-hot + eps / C "
                                "(all losses but hinge)", check=_unit_open),
    "loss.confidence_penalty": Key(0.0, "beta: subtract beta * entropy of the output "
                                   "distribution (Pereyra et al. 2017)", check=_non_negative),
    "loss.target_noise": Key(0.0, "std of Gaussian noise added to the soft targets in training "
                             "(mse, kl, binary_cross_entropy)", check=_non_negative),
    "loss.aux_weight": Key(0.0, "auxiliary classifiers (mlp, cnn): a head on every hidden block, "
                           "its loss added with this weight in training (Lee et al. 2015); 0 = off",
                           check=_non_negative),
    # regularization
    "regularization.l2": Key(0.0, "lambda of the penalty lambda/2 * sum w^2 added to the loss "
                             "(unlike optimizer.weight_decay, it passes through the optimizer's "
                             "scaling, e.g. Adam's)", check=_non_negative),
    "regularization.l1": Key(0.0, "lambda of the penalty lambda * sum |w| added to the loss",
                             check=_non_negative),
    "regularization.exclude_bias_and_norm": Key(False, "penalties and optimizer.weight_decay "
                                                "skip biases and normalization parameters"),
    "regularization.input_noise": Key(0.0, "std of Gaussian noise added to every training "
                                      "input", check=_non_negative),
    "regularization.weight_noise": Key(0.0, "std of Gaussian noise added to the weights for each "
                                       "forward/backward pass, removed before the update",
                                       check=_non_negative),
    # augmentation
    "augment.shift": Key(0.0, "random shift per sample: 1-D signals up to this many positions, "
                         "images up to this fraction of their size; 0 = off", check=_non_negative),
    "augment.stretch": Key(0.0, "random scale per sample by a factor in [1 - s, 1 + s] (1-D "
                           "stretch, image zoom)", check=_unit_open),
    "augment.rotate": Key(0.0, "images: random rotation up to this many degrees",
                          check=_non_negative),
    "augment.noise": Key(0.0, "std of Gaussian noise added after the geometric transforms",
                         check=_non_negative),
    # optimizer
    "optimizer.name": Key("adamw", "optimizer; momentum and nesterov mean sgd with that "
                          "(momentum 0.9 unless optimizer.momentum is set)", choices=OPTIMIZERS),
    "optimizer.lr": Key(0.01, "learning rate (the peak rate for one_cycle)", check=_positive),
    "optimizer.momentum": Key(0.0, "sgd, rmsprop: momentum", check=_unit_open),
    "optimizer.nesterov": Key(False, "sgd: Nesterov's accelerated gradient (needs momentum > 0)"),
    "optimizer.weight_decay": Key(0.05, "L2 weight decay (decoupled for adamw)",
                                  check=_non_negative),
    "optimizer.betas": Key([0.9, 0.999], "adam, adamw: (beta1, beta2)", check=_betas),
    "optimizer.eps": Key(1e-8, "adagrad, rmsprop, adadelta, adam, adamw: epsilon",
                         check=_positive),
    "optimizer.alpha": Key(0.99, "rmsprop: smoothing constant", check=_unit_open),
    "optimizer.rho": Key(0.9, "adadelta: smoothing constant", check=_unit_open),
    "optimizer.variant": Key("irprop-", "rprop: rprop+ (backtracking), rprop-, irprop+, irprop- "
                             "(Igel & Huesken 2000)", choices=("rprop+", "rprop-", "irprop+",
                                                               "irprop-")),
    "optimizer.etas": Key([0.5, 1.2], "rprop: (eta_minus, eta_plus) step-size factors",
                          check=_pair(lambda a, b: 0 < a < 1 < b,
                                      "[eta_minus, eta_plus] with 0 < eta_minus < 1 < eta_plus")),
    "optimizer.step_sizes": Key([1e-6, 50.0], "rprop: (smallest, largest) step size",
                                check=_pair(lambda a, b: 0 <= a <= b,
                                            "[min, max] with 0 <= min <= max")),
    "optimizer.max_growth": Key(1.75, "quickprop: largest step as a multiple of the previous one",
                                check=lambda v: None if v > 1 else "a number > 1"),
    "optimizer.sgd_lr": Key(0.0, "swats / train.switch_to_sgd_at: SGD rate after the switch; "
                            "0 = SWATS's projected estimate", check=_non_negative),
    # gradient transforms, around any optimizer
    "gradient_noise.eta": Key(0.0, "Gaussian gradient noise of variance eta / (1 + t)^gamma "
                              "(Neelakantan et al. 2015; 0.01-1.0 there); 0 = off",
                              check=_non_negative),
    "gradient_noise.gamma": Key(0.55, "gradient noise: decay exponent gamma", check=_non_negative),
    "gradient_clip.max_value": Key(0.0, "clip each gradient element to [-v, v] (lecture 000: "
                                   "theta = 5); 0 = off", check=_non_negative),
    "gradient_clip.max_norm": Key(0.0, "rescale the gradient to this global L2 norm when larger; "
                                  "0 = off", check=_non_negative),
    # schedule
    "schedule.name": Key("one_cycle", "learning-rate schedule", choices=SCHEDULES),
    "schedule.step_size": Key(10, "step: epochs between decays",
                              check=lambda v: None if v >= 1 else "an integer >= 1"),
    "schedule.gamma": Key(0.1, "step, exponential: factor applied to the rate per decay",
                          check=_fraction),
    "schedule.factor": Key(0.1, "plateau: factor applied when validation stops improving",
                           check=_fraction),
    "schedule.patience": Key(5, "plateau: the rate drops once more than this many epochs "
                             "passed without improvement",
                             check=_non_negative),
    "schedule.min_lr": Key(0.0, "plateau, cosine: lowest rate", check=_non_negative),
    "schedule.decay": Key(0.1, "inverse_time: k in lr / (1 + k * epoch)", check=_non_negative),
    "schedule.end_factor": Key(0.01, "linear: final rate as a fraction of lr", check=_fraction),
    "schedule.decay_epochs": Key(0, "linear: epochs over which the rate falls (then constant); "
                                 "0 = all", check=_non_negative),
    "schedule.warmup_epochs": Key(0.0, "linear warm-up from ~0 to lr over this many epochs, "
                                  "before any schedule (Goyal et al. 2017); 0 = off",
                                  check=_non_negative),
    # training
    "train.epochs": Key(30, "number of passes over the training split",
                        check=lambda v: None if v >= 1 else "an integer >= 1"),
    "train.batch_size": Key(64, 'samples per update: 1 = online GD, b = minibatch, "full" = '
                            "batch GD", check=_batch_size, types=(int, str)),
    "train.shuffle": Key(True, "reshuffle the samples every epoch (seeded); false = fixed order"),
    "train.switch_to_sgd_at": Key(0, "adam / swats: use SGD from this epoch on (lecture 003, "
                                  "Adam first, then SGD); 0 = never", check=_non_negative),
    "train.checkpoint_seconds": Key(5.0, "write the checkpoints at the end of the first epoch "
                                    "that ends this long after the last write, and at the end; "
                                    "0 = every epoch", check=_non_negative),
    "logging.tensorboard": Key(False, "also write each epoch's metrics for TensorBoard to "
                               "<run>/tensorboard (metrics.jsonl stays the source of truth)"),
    # early stopping and model selection
    "early_stopping.monitor": Key("val_accuracy", "metric that defines the best epoch (best "
                                  "checkpoint) and early stopping", choices=MONITORS),
    "early_stopping.patience": Key(0, "stop after this many epochs without improvement; 0 = never",
                                   check=_non_negative),
    "early_stopping.min_delta": Key(0.0, "smallest change of the monitor that counts as "
                                    "improvement", check=_non_negative),
    "early_stopping.restore_best": Key(True, "evaluate and return the best epoch's weights "
                                       "(else the last epoch's)"),
}

SECTION_DOCS = {
    "data": "where the samples come from and how they are split and normalized",
    "model": "architecture and initialization",
    "loss": "the divergence minimized",
    "regularization": "penalties and noise that fight overfitting (lectures 000, 002, 003)",
    "augment": "random transformations of each training batch, on the device",
    "optimizer": "how gradients become updates",
    "gradient_noise": "noise added to every gradient before the optimizer step",
    "gradient_clip": "gradient clipping before the optimizer step (clipping first, then noise)",
    "schedule": "how the learning rate changes (per epoch; cosine and one_cycle per update)",
    "train": "the loop",
    "logging": "where else metrics go",
    "early_stopping": "model selection on the validation split",
}


def _type_name(t: type) -> str:
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string",
            list: "a list"}[t]


def _accepts(key: Key, value: Any) -> bool:
    types = key.types or (type(key.default),)
    if isinstance(value, bool) or bool in types:
        return isinstance(value, bool) and bool in types
    if float in types and isinstance(value, int):
        return True
    return isinstance(value, types)


def check_value(name: str, value: Any) -> Any:
    """Validate one key's value; returns it (ints promoted to float where a float is expected)."""
    key = SCHEMA.get(name)
    if key is None:
        close = difflib.get_close_matches(name, SCHEMA, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise UserError(f"unknown config key {name!r}{hint} (`trainlab config` lists them all)")
    if not _accepts(key, value):
        allowed = " or ".join(_type_name(t) for t in (key.types or (type(key.default),)))
        raise UserError(f"{name} = {_fmt(value)}: expected {allowed}")
    if isinstance(key.default, float) and not isinstance(value, bool):
        value = float(value)
        if not math.isfinite(value):
            raise UserError(f"{name} = {_fmt(value)}: expected a finite number")
    if key.choices is not None and value not in key.choices:
        raise UserError(f"{name} = {_fmt(value)}: expected one of {', '.join(key.choices)}")
    if key.check is not None:
        problem = key.check(value)
        if problem:
            raise UserError(f"{name} = {_fmt(value)}: expected {problem}")
    return value


def _fmt(value: Any) -> str:
    """A value as one line of TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(map(_fmt, value)) + "]"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_fmt(v)}" for k, v in value.items()) + "}"
    return repr(value)


def defaults() -> dict:
    """The full default config as a nested dict."""
    out: dict = {}
    for name, key in SCHEMA.items():
        _set(out, name, copy.deepcopy(key.default))
    return out


def _set(tree: dict, dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for p in parents:
        tree = tree.setdefault(p, {})
    tree[leaf] = value


def flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}."""
    flat: dict[str, Any] = {}
    for k, v in tree.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            if name not in SECTION_DOCS:
                check_value(name, v)  # a table where a value belongs: unknown key or wrong type
            flat.update(flatten(v, name + "."))
        else:
            flat[name] = v
    return flat


def parse_override(text: str) -> tuple[str, Any]:
    """``"optimizer.lr=1e-3"`` -> ``("optimizer.lr", 0.001)``; bare words are strings."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise UserError(f"override {text!r}: expected key=value, e.g. optimizer.lr=0.01")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # an unquoted word such as `sgd` or `runs/x`
    return name, value


def read_file(path: str | Path) -> dict:
    """Read a TOML config file into a nested dict (not yet validated)."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise UserError(f"config file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"config file {str(path)!r} cannot be read: {e}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"config file {str(path)!r} is not valid TOML: {e}") from None


def resolve(base: dict | str | Path | None = None, overrides: list[str] | dict | None = None) -> dict:
    """Defaults <- ``base`` (dict or TOML file) <- ``overrides``; every key validated.

    ``overrides`` is a list of ``"key=value"`` strings or a dict ``{"optimizer.lr": 0.1}``.
    """
    config = defaults()
    layers: list[dict[str, Any]] = []
    if base is not None:
        layers.append(flatten(read_file(base) if isinstance(base, (str, Path)) else base))
    if overrides:
        pairs = overrides.items() if isinstance(overrides, dict) else map(parse_override, overrides)
        layers.append(dict(pairs))
    for layer in layers:
        for name, value in layer.items():
            _set(config, name, check_value(name, value))
    _expand_aliases(config["optimizer"])
    _check_combinations(flatten(config))
    return config


def _expand_aliases(o: dict) -> None:
    """``momentum`` -> sgd with momentum (0.9 unless set); ``nesterov`` -> the same, Nesterov."""
    if o["name"] in ("momentum", "nesterov"):
        o["nesterov"] = o["name"] == "nesterov"
        o["name"], o["momentum"] = "sgd", o["momentum"] or 0.9


def _check_combinations(c: dict[str, Any]) -> None:
    if c["optimizer.nesterov"] and (c["optimizer.name"] != "sgd" or c["optimizer.momentum"] == 0):
        raise UserError("optimizer.nesterov = true: needs optimizer.name = sgd and "
                        f"optimizer.momentum > 0 (got {c['optimizer.name']}, "
                        f"momentum {c['optimizer.momentum']})")
    if c["train.switch_to_sgd_at"] and c["optimizer.name"] not in ("adam", "swats"):
        raise UserError(f"train.switch_to_sgd_at = {c['train.switch_to_sgd_at']}: needs "
                        f"optimizer.name = adam or swats (got {c['optimizer.name']})")
    if c["data.name"] in ("npz", "csv", "mnist", "fashion_mnist", "cifar10") and not c["data.path"]:
        raise UserError(f"data.name = {c['data.name']!r} needs data.path (a "
                        f"{'folder' if c['data.name'] in ('mnist', 'fashion_mnist', 'cifar10') else 'file'})")


def dumps(config: dict) -> str:
    """TOML text of a config (what a run's config.toml holds)."""
    return tomli_w.dumps(config)


def documented_defaults() -> str:
    """The default config as TOML with a comment on every key (`trainlab config`)."""
    lines = ["# trainlab default config. Every key can be set in a TOML file or as key=value.", ""]
    section = None
    for name, key in SCHEMA.items():
        parts = name.split(".")
        if len(parts) == 2 and parts[0] != section:
            section = parts[0]
            lines += ["", f"[{section}]  # {SECTION_DOCS[section]}"]
        allowed = f" ({' | '.join(key.choices)})" if key.choices else ""
        lines.append(f"# {key.doc}{allowed}")
        lines.append(f"{parts[-1]} = {_fmt(key.default)}")
    return "\n".join(lines) + "\n"
