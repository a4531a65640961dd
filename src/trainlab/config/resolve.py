"""Reading a config: three layers, each over the last, the defaults (:mod:`.schema`), a TOML file,
and dotted ``key=value`` overrides whose values are read as TOML (``model.hidden=[256,256]``,
``train.shuffle=false``, ``optimizer.lr=1e-3``). Every key is checked here, once, before anything
runs: an unknown key (with the closest known one suggested), a wrong type or a value out of range
is a :class:`UserError` naming the key, the value and what is allowed.
"""

from __future__ import annotations

import copy
import difflib
import json
import math
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from ..errors import UserError
from ..imports import is_import_path
from ..registry import for_key
from .plain import described
from .schema import SCHEMA, SECTION_DOCS, Key
from .typed import Config, from_dict


def task(data_name: str) -> str:
    """``classification`` or ``regression``: what data source ``data_name`` asks of a model (its
    registry entry's ``task``; the user's own source is classification here, and its targets'
    type decides once it is loaded)."""
    if is_import_path(data_name):
        return "classification"
    return for_key("data.name")[data_name].task


def _type_name(t: type) -> str:
    return {
        bool: "true/false",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }[t]


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
    if not _within_64_bits(value):
        raise UserError(
            f"{name} = {_fmt(value)}: expected integers within 64 bits "
            "(-9223372036854775808 to 9223372036854775807)"
        )
    if isinstance(key.default, float) and not isinstance(value, bool):
        value = float(value)
        if not math.isfinite(value):
            raise UserError(f"{name} = {_fmt(value)}: expected a finite number")
        if abs(value) > FLOAT32_MAX:  # it meets float32 tensors, which would overflow
            raise UserError(
                f"{name} = {_fmt(value)}: expected a number within float32's range "
                f"(magnitude at most {FLOAT32_MAX:.4g})"
            )
    if (
        key.choices is not None
        and value not in key.choices
        and not (name in IMPORTABLE and is_import_path(value))
    ):
        raise UserError(
            f"{name} = {_fmt(value)}: expected one of {', '.join(key.choices)}"
            + _did_you_mean(value, key.choices)
        )
    if key.check is not None:
        problem = key.check(value)
        if problem:
            raise UserError(f"{name} = {_fmt(value)}: expected {problem}")
    return value


def _within_64_bits(value: Any) -> bool:
    """Every integer in ``value`` (lists and tables too) fits an int64, as PyTorch needs."""
    if isinstance(value, int) and not isinstance(value, bool):
        return -(2**63) <= value < 2**63
    if isinstance(value, (list, tuple)):
        return all(map(_within_64_bits, value))
    if isinstance(value, dict):
        return all(map(_within_64_bits, value.values()))
    return True


def _did_you_mean(value: Any, choices) -> str:
    """ "; did you mean adam?" for a name that differs from one of ``choices`` in case or by a
    typo."""
    if not isinstance(value, str):
        return ""
    names = [str(c) for c in choices]
    same = [c for c in names if c.lower() == value.lower()]
    close = same or difflib.get_close_matches(value, names, n=1, cutoff=0.75)
    return f"; did you mean {close[0]}?" if close else ""


FLOAT32_MAX = 3.4028234663852886e38  # the largest float32, torch's default dtype

IMPORTABLE = ("model.name", "data.name")  # may name the user's own callable, package.module:name


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
        if isinstance(v, dict) and dict not in getattr(SCHEMA.get(name), "types", ()):
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
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is no TOML
    except FileNotFoundError:
        raise UserError(f"config file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"config file {str(path)!r} cannot be read: {e}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"config file {str(path)!r} is not valid TOML: {e}") from None


def resolve(
    base: dict | Config | str | Path | None = None,
    overrides: list[str] | dict | None = None,
    *,
    presets: list[str] | dict | None = None,
) -> Config:
    """Defaults <- ``presets`` <- ``base`` (a dict, a :class:`Config` or a TOML file) <-
    ``overrides``; every key validated; returns the typed, frozen :class:`Config`.

    ``overrides`` and ``presets`` are lists of ``"key=value"`` strings or dicts
    ``{"optimizer.lr": 0.1}``. ``presets`` are the caller's own defaults (e.g. "no
    normalization, no dropout"): one that the chosen model, optimizer, schedule, data source or
    mode does not read is left out, where a key given in ``base`` or ``overrides`` would be
    refused.
    """
    config = defaults()
    layers: list[dict[str, Any]] = []
    if presets:
        layers.append(_pairs(presets))
    if base is not None:
        layers.append(pairs_of(base))
    if overrides:
        layers.append(_pairs(overrides))
    for layer in layers:
        for name, value in layer.items():
            _set(config, name, check_value(name, value))
    if presets:
        given = set().union(*layers[1:])
        for name in set(layers[0]) - given - set(_applicable(flatten(config))):
            _set(config, name, copy.deepcopy(SCHEMA[name].default))
    _usual_rate(config, any("optimizer.lr" in layer for layer in layers))
    _no_recipe_decay(config, any("optimizer.weight_decay" in layer for layer in layers))
    given = {k: v for layer in layers[1 if presets else 0 :] for k, v in layer.items()}
    expand = for_key("optimizer.name")[config["optimizer"]["name"]].expand
    if expand is not None:  # an alias (momentum, nesterov): the options of the name it means
        _expand(expand, config["optimizer"], given)
    _own_step_size(config, given)
    _check_combinations(flatten(config))
    _check_applies(flatten(config))
    _check_batch_statistics(flatten(config))
    _check_recurrent(flatten(config))
    _check_blocks(flatten(config))
    _check_layers(flatten(config))
    _check_penalties(flatten(config))
    _regression_defaults(config, set().union(*layers) if layers else set())
    _check_regression(flatten(config))
    _check_distributed(flatten(config))
    _check_validation(flatten(config))
    _check_warmup(flatten(config))
    _check_average(flatten(config))
    return from_dict(config)


def pairs_of(base: dict | Config | str | Path) -> dict[str, Any]:
    """A config given as a nested dict, a :class:`Config` or a TOML file, as dotted pairs."""
    if isinstance(base, Config):
        base = base.to_dict()
    return flatten(read_file(base) if isinstance(base, (str, Path)) else base)


def _pairs(pairs: list[str] | dict) -> dict[str, Any]:
    return dict(pairs.items() if isinstance(pairs, dict) else map(parse_override, pairs))


def _expand(expand, options: dict, given: dict[str, Any]) -> None:
    """Rewrite an alias's ``options`` into those of the name it means (``momentum``: sgd with
    momentum 0.9 unless given); an option the caller gave (not a preset) that the rewrite would
    change is refused, e.g. ``optimizer.name=momentum optimizer.momentum=0``."""
    alias = options["name"]
    before = dict(options)
    expand(options)
    for leaf, value in before.items():
        key = f"optimizer.{leaf}"
        if leaf != "name" and key in given and options[leaf] != value:
            raise UserError(
                f"{key} = {_fmt(value)}: optimizer.name = {alias!r} means {leaf} = "
                f"{_fmt(options[leaf])} (optimizer.name = 'sgd' takes any momentum and nesterov)"
            )


def _own_step_size(config: dict, given: dict[str, Any]) -> None:
    """An optimizer that sets its own step sizes (Rprop: ``lr`` is only Delta_0) trains at a
    constant rate: the recipe's schedule is not applied to it, and one the caller gives (or a
    warm-up) is refused, since it would change only the first step."""
    name = config["optimizer"]["name"]
    if not for_key("optimizer.name")[name].own_step_size:
        return
    for key, plain in (("schedule.name", "constant"), ("schedule.warmup_epochs", 0.0)):
        if key in given and given[key] != plain:
            raise UserError(
                f"{key} = {_fmt(given[key])}: optimizer.name = {name!r} sets its own step "
                f"sizes; optimizer.lr is only its first one (Delta_0), so a schedule would "
                f"change nothing after the first update (use {key} = {_fmt(plain)})"
            )
    config["schedule"]["name"] = "constant"


def _usual_rate(config: dict, lr_given: bool) -> None:
    """An optimizer chosen without a rate gets its usual one (``OPTIMIZERS``: PyTorch's or the
    paper's default, e.g. AdaDelta 1.0, Adam 1e-3); the recipe's rate (``optimizer.lr``'s
    default) goes with the recipe's optimizer only. The resolved config holds the number used."""
    name = config["optimizer"]["name"]
    if not lr_given and name != SCHEMA["optimizer.name"].default:
        config["optimizer"]["lr"] = float(for_key("optimizer.name")[name].usual_lr)


def _no_recipe_decay(config: dict, decay_given: bool) -> None:
    """An optimizer chosen without ``optimizer.weight_decay`` trains without weight decay: the
    recipe's decay (``optimizer.weight_decay``'s default, decoupled for adamw) goes with the
    recipe's optimizer only, as its rate does. The resolved config holds the 0 used."""
    name = config["optimizer"]["name"]
    reads = for_key("optimizer.name")[name].reads
    if not decay_given and name != SCHEMA["optimizer.name"].default and "weight_decay" in reads:
        config["optimizer"]["weight_decay"] = 0.0


def _check_combinations(c: dict[str, Any]) -> None:
    optimizers = for_key("optimizer.name")
    name, nesterov = c["optimizer.name"], optimizers.names(nesterov=True)
    if c["optimizer.nesterov"] and (name not in nesterov or c["optimizer.momentum"] == 0):
        raise UserError(
            f"optimizer.nesterov = true: needs optimizer.name = {' or '.join(nesterov)}"
            f" and optimizer.momentum > 0 (got {name}, "
            f"momentum {c['optimizer.momentum']})"
        )
    switching = optimizers.names(switches_to_sgd=True)
    if c["train.switch_to_sgd_at"] and name not in switching:
        raise UserError(
            f"train.switch_to_sgd_at = {c['train.switch_to_sgd_at']}: needs "
            f"optimizer.name = {' or '.join(switching)} (got {name})"
        )
    if c["train.switch_to_sgd_at"] and not c["optimizer.bias_correction"]:
        raise UserError(
            "optimizer.bias_correction = false: not with train.switch_to_sgd_at (the Adam "
            "phase before the switch is SWATS's, bias-corrected)"
        )
    losses = for_key("loss.name")
    if optimizers[name].second_order and not losses[c["loss.name"]].second_derivatives:
        raise UserError(
            f"optimizer.name = {name!r} differentiates the loss twice; loss.name = "
            f"{c['loss.name']!r} has no second derivatives (use one of "
            f"{', '.join(losses.names(second_derivatives=True))})"
        )
    if c["schedule.every"] == "update" and c["schedule.name"] == "plateau":
        raise UserError(
            "schedule.every = 'update' with schedule.name = 'plateau': plateau watches a "
            "validation metric measured once per epoch (use every = 'epoch' or 'auto')"
        )
    if (
        c["schedule.every"] == "epoch"
        and c["schedule.name"] == "one_cycle"
        and c["train.epochs"] < 6
    ):
        raise UserError(
            f"schedule.every = 'epoch' with schedule.name = 'one_cycle' and train.epochs = "
            f"{c['train.epochs']}: its warm-up (30% of the steps) needs at least 6 epochs to "
            "rise from lr / 25 (use more epochs, or every = 'update')"
        )
    reads = None if is_import_path(c["data.name"]) else for_key("data.name")[c["data.name"]].path
    if reads and not c["data.path"]:
        raise UserError(f"data.name = {c['data.name']!r} needs data.path (a {reads})")


REGRESSION_DEFAULTS = {"loss.name": "mse", "early_stopping.monitor": "val_loss"}


def _regression_defaults(config: dict, given: set[str]) -> None:
    """A regression source (real targets) has its own defaults where the classification recipe's
    would not apply: the mean squared error and the validation loss to monitor."""
    if task(config["data"]["name"]) != "regression":
        return
    for key, value in REGRESSION_DEFAULTS.items():
        if key not in given:
            section, leaf = key.split(".")
            config[section][leaf] = value


def _check_regression(c: dict[str, Any]) -> None:
    """What a regression task cannot use: accuracies, and the losses' classification options."""
    if task(c["data.name"]) != "regression":
        return
    name = c["data.name"]
    for key, allowed in (
        ("loss.name", ("mse",)),
        ("early_stopping.monitor", ("val_loss", "train_loss")),
    ):
        if c[key] not in allowed:
            raise UserError(
                f"{key} = {_fmt(c[key])}: data.name = {name!r} is a regression task; "
                f"expected {' or '.join(allowed)}"
            )
    for key in (
        "loss.label_smoothing",
        "loss.confidence_penalty",
        "loss.target_noise",
        "loss.aux_weight",
    ):
        if c[key]:
            raise UserError(
                f"{key} = {_fmt(c[key])}: acts on class outputs; data.name = "
                f"{name!r} is a regression task (expected 0)"
            )


def _check_batch_statistics(c: dict[str, Any]) -> None:
    """Batch norm needs 2 samples per batch: refused here, before any folder exists (the build
    step checks again for a model of the user's own)."""
    if c["train.batch_size"] != 1 or is_import_path(c["model.name"]):
        return
    reads = for_key("model.name")[c["model.name"]].reads
    if ("norm" in reads and c["model.norm"] == "batch") or (
        "recurrent_norm" in reads and c["model.recurrent_norm"] == "batch"
    ):
        raise UserError(
            "train.batch_size = 1 with model.norm (or model.recurrent_norm) = "
            "'batch': batch norm needs at least 2 samples per batch (use a larger "
            "batch, or 'layer'/'none')"
        )


def _check_recurrent(c: dict[str, Any]) -> None:
    """The recurrent keys that need each other (which model reads which key is
    :func:`_check_applies`'s, from the registry)."""
    steps = "model.bn_time_steps"
    if c[steps] != SCHEMA[steps].default and c["model.recurrent_norm"] != "batch":
        raise UserError(
            f"{steps} = {c[steps]}: only for model.recurrent_norm = batch "
            f"(got {c['model.recurrent_norm']!r})"
        )
    if c["model.recurrent_norm"] == "batch" and c["model.bn_stats"] == "population":
        raise UserError(
            'model.bn_stats = "population": not for model.recurrent_norm = batch, '
            "whose statistics are per time step; use model.bn_stats = running or auto"
        )
    if c["model.recurrent_dropout_mode"] == "semeniuta" and c["model.name"] == "rnn":
        raise UserError(
            'model.recurrent_dropout_mode = "semeniuta": drops a gated cell\'s '
            "candidate update; use model.name = gru or lstm (rnn has none)"
        )


def _check_blocks(c: dict[str, Any]) -> None:
    """A list of kernel sizes, strides or paddings has one entry per conv block."""
    blocks = len(c["model.channels"])
    for key in ("model.kernel_size", "model.stride", "model.padding"):
        value = c[key]
        if isinstance(value, list) and len(value) != blocks:
            raise UserError(
                f"{key} = {_fmt(value)}: expected one value per block, {blocks} "
                f"(model.channels = {_fmt(c['model.channels'])}), or a single value"
            )


def _check_warmup(c: dict[str, Any]) -> None:
    """A warm-up longer than the run would never reach the rate it warms up to."""
    if c["schedule.warmup_epochs"] > c["train.epochs"]:
        raise UserError(
            f"schedule.warmup_epochs = {_fmt(c['schedule.warmup_epochs'])}: expected at most "
            f"train.epochs = {c['train.epochs']} (the warm-up would outlast the run)"
        )


def _check_layers(c: dict[str, Any]) -> None:
    """Pooling windows that leave no input out, and normalized layers that exist."""
    if c["model.pool_stride"] > c["model.pool_size"]:
        raise UserError(
            f"model.pool_stride = {c['model.pool_stride']}: expected at most model.pool_size "
            f"= {c['model.pool_size']} (a larger stride skips inputs)"
        )
    chosen = c["model.norm_layers"]
    if not chosen:
        return
    if c["model.norm"] == "none":
        raise UserError(
            f"model.norm_layers = {_fmt(chosen)}: needs a model.norm to apply (got 'none')"
        )
    convolutional = for_key("model.name")[c["model.name"]].convolutional
    width = "model.channels" if convolutional else "model.hidden"
    layers = len(c[width])
    if max(chosen) > layers:
        raise UserError(
            f"model.norm_layers = {_fmt(chosen)}: layer {max(chosen)} does not exist "
            f"({width} = {_fmt(c[width])} has {layers}; they are numbered from 1)"
        )


def _check_penalties(c: dict[str, Any]) -> None:
    """The loss options that refine another (a threshold of the confidence penalty, a prior of
    label smoothing), and the penalties a pipeline's stages cannot apply to their part."""
    if c["loss.confidence_threshold"] and not c["loss.confidence_penalty"]:
        raise UserError(
            f"loss.confidence_threshold = {_fmt(c['loss.confidence_threshold'])}: "
            "needs loss.confidence_penalty > 0 (the penalty it limits)"
        )
    if c["loss.smoothing_prior"] != "uniform" and not c["loss.label_smoothing"]:
        raise UserError(
            f"loss.smoothing_prior = {_fmt(c['loss.smoothing_prior'])}: needs "
            "loss.label_smoothing > 0 (the weight of the prior in the target)"
        )
    model = c["model.name"]
    if c["regularization.l1_activations"] and not is_import_path(model):
        models = for_key("model.name")
        if "activation" not in models[model].reads:
            readers = [n for n in models if "activation" in models[n].reads]
            raise UserError(
                f"regularization.l1_activations = {_fmt(c['regularization.l1_activations'])}: "
                f"needs hidden activation layers, model.name = {' or '.join(readers)} "
                f"(got {model!r})"
            )
    if c["regularization.l1_activations"] and c["train.compile"]:
        raise UserError(
            f"regularization.l1_activations = {_fmt(c['regularization.l1_activations'])}: not "
            "with train.compile = true (the compiled forward pass does not run the hooks that "
            "collect the activations)"
        )
    if c["distributed.mode"] == "pipeline":
        for key in (
            "regularization.l2_per_layer",
            "regularization.l1_activations",
            "loss.smoothing_prior",
        ):
            if c[key] != SCHEMA[key].default:
                raise UserError(
                    f"{key} = {_fmt(c[key])}: not with distributed.mode = 'pipeline' "
                    "(each stage holds only some of the layers and no training labels)"
                )


def _check_validation(c: dict[str, Any]) -> None:
    """data.val_fraction = 0 leaves nothing to stop early on or to schedule by."""
    if c["data.val_fraction"] or not c["early_stopping.monitor"].startswith("val_"):
        return
    monitor = c["early_stopping.monitor"]
    if c["early_stopping.patience"]:
        raise UserError(
            f"early_stopping.patience = {c['early_stopping.patience']} on "
            f"{monitor} with data.val_fraction = 0: there is no validation split "
            "(hold one out, or monitor train_loss / train_accuracy)"
        )
    if c["schedule.name"] == "plateau":
        raise UserError(
            f"schedule.name = 'plateau' watches {monitor}, but data.val_fraction = "
            "0 holds out no validation split (hold one out, or monitor a train_* "
            "metric)"
        )


def _check_average(c: dict[str, Any]) -> None:
    """train.average's options apply only to the kinds that read them; its start must fall
    within the run; averaging is one-process training's."""
    kind = c["train.average"]
    for key, kinds in (
        ("train.average_start", ("polyak", "ema")),
        ("train.average_decay", ("ema",)),
    ):
        if kind not in kinds and c[key] != SCHEMA[key].default:
            raise UserError(
                f"{key} = {_fmt(c[key])}: only for train.average = {' or '.join(kinds)} "
                f"(got {kind!r})"
            )
    if kind == "none":
        return
    start, epochs = c["train.average_start"], c["train.epochs"]
    if start >= epochs:
        raise UserError(
            f"train.average_start = {_fmt(start)}: averaging would begin after the last epoch "
            f"(train.epochs = {epochs}); use fewer epochs or a fraction below 1"
        )
    if c["distributed.mode"] != "none":
        raise UserError(
            f"train.average = {kind!r}: one-process training only "
            f"(got distributed.mode = {c['distributed.mode']!r})"
        )


def _check_distributed(c: dict[str, Any]) -> None:
    mode = c["distributed.mode"]
    if c["distributed.slow_worker"]:
        if mode == "none":
            raise UserError(
                f"distributed.slow_worker = {_fmt(c['distributed.slow_worker'])}: "
                "needs a distributed.mode other than none"
            )
        index = int(c["distributed.slow_worker"].split(":")[0])
        count = c["distributed.workers"] + c["distributed.backup_workers"]
        if not for_key("distributed.mode")[mode].torchrun and index >= count:
            raise UserError(
                f"distributed.slow_worker = {_fmt(c['distributed.slow_worker'])}: "
                f"worker {index} does not exist (workers are 0 to {count - 1})"
            )
    if for_key("distributed.mode")[mode].cpu_only and c["device"] == "cuda":
        raise UserError(
            f"distributed.mode = {mode!r} with device = 'cuda': it shares one "
            "model in CPU shared memory; use device = 'cpu' (or 'auto')"
        )


def dumps(config: dict | Config) -> str:
    """TOML text of a config (what a run's config.toml holds)."""
    return tomli_w.dumps(config.to_dict() if isinstance(config, Config) else config)


def documented_defaults() -> str:
    """The default config as TOML with a comment on every key (`trainlab config`)."""
    lines = [
        "# trainlab default config. Every key can be set in a TOML file or as key=value.",
        "# --plain (train, config): the bare algorithm of the lectures, these defaults instead",
        "# where the chosen model and optimizer read them: " + described(),
        "",
    ]
    section = None
    for name, key in SCHEMA.items():
        parts = name.split(".")
        if len(parts) == 2 and parts[0] != section:
            section = parts[0]
            lines += ["", f"[{section}]  # {SECTION_DOCS[section]}"]
        allowed = f" ({' | '.join(key.choices)})" if key.choices else ""
        lines.append(f"# {key.meaning}{allowed}")
        lines.append(f"{parts[-1]} = {_fmt(key.default)}")
    return "\n".join(lines) + "\n"


# The keys of a section that do not depend on which entry its name chooses; every other key of
# the section applies only to the entries whose ``reads`` name it.
SHARED = {
    "data": ("name", "val_fraction", "test_fraction", "normalize", "remap_labels"),
    "model": (
        "name",
        "init",
        "init_std",
        "init_range",
        "init_value",
        "bias_value",
        "pretrained",
        "freeze",
        "bn_stats",
        "init_recurrent",
    ),
    "optimizer": ("name", "lr"),
    "schedule": ("name", "warmup_epochs", "every"),
    "distributed": ("mode", "address", "port", "timeout", "slow_worker"),
}
IMPORTED_READS = ("args",)  # what the user's own model or data callable reads


def _chooser(section: str) -> str:
    return f"{section}.{'mode' if section == 'distributed' else 'name'}"


def _applicable(c: dict[str, Any]) -> list[str]:
    """Every key that applies to the entries ``c`` chooses: keys of sections without a chooser,
    the shared keys of a section, and those its chosen entry reads (its registry ``reads``)."""
    keys = []
    for name in c:
        section, _, leaf = name.partition(".")
        if section not in SHARED or leaf in SHARED[section]:
            keys.append(name)
            continue
        chosen = c[_chooser(section)]
        if section in ("data", "model") and is_import_path(chosen):
            reads = IMPORTED_READS
        else:
            reads = for_key(_chooser(section))[chosen].reads
        if leaf in reads:
            keys.append(name)
    return keys


def _check_applies(c: dict[str, Any]) -> None:
    """A key set away from its default that the chosen entry does not read (its registry
    entry's ``reads``) is refused, naming the entries that do read it."""
    applicable = set(_applicable(c))
    for name, value in c.items():
        if name in applicable or value == SCHEMA[name].default:
            continue
        section, _, leaf = name.partition(".")
        key = _chooser(section)
        chosen, registry = c[key], for_key(key)
        readers = [n for n in registry if leaf in registry[n].reads]
        allowed = (
            f"{key} = package.module:callable"
            if leaf in IMPORTED_READS
            else f"{key} = {' or '.join(readers)}"
        )
        raise UserError(f"{name} = {_fmt(value)}: only for {allowed} (got {chosen!r})")
