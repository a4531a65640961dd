"""What a run used, so that nothing is hidden: every technique a resolved config turns on, with
its values (``summary.json["techniques"]`` and the line ``trainlab train`` prints).

The optimizer (its name, rate and every option its registry entry reads), the schedule (its
options, when it steps, the warm-up), the batch size and epochs are always listed. The other
groups (norm, dropout, noise, penalties, augmentation, clipping, averaging, early stopping,
precision, distributed) are listed when one of their switches is on and applies to the chosen
model (a key the model does not read, such as ``model.dropout`` for ``linear``, is not used).
"""

from __future__ import annotations

from typing import Any

from ..registry import for_key
from .resolve import _applicable, flatten
from .schema import SCHEMA
from .typed import Config

# group: (switches, a group is listed when one of them is on; details listed with them)
GROUPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "norm": (
        ("model.norm", "model.recurrent_norm"),
        ("model.norm_layers", "model.bn_stats", "model.bn_momentum", "model.bn_time_steps"),
    ),
    "dropout": (
        ("model.dropout", "model.input_dropout", "model.recurrent_dropout"),
        ("model.dropout_mode", "model.recurrent_dropout_mode"),
    ),
    "noise": (
        (
            "regularization.input_noise",
            "regularization.weight_noise",
            "model.hidden_noise",
            "loss.target_noise",
            "gradient_noise.eta",
        ),
        ("gradient_noise.gamma",),
    ),
    "penalties": (
        (
            "regularization.l1",
            "regularization.l2",
            "regularization.l2_per_layer",
            "regularization.l1_activations",
            "loss.label_smoothing",
            "loss.confidence_penalty",
            "loss.aux_weight",
        ),
        (
            "regularization.exclude_bias_and_norm",
            "loss.smoothing_prior",
            "loss.confidence_threshold",
        ),
    ),
    "augmentation": (("augment.shift", "augment.stretch", "augment.rotate", "augment.noise"), ()),
    "clipping": (("gradient_clip.max_value", "gradient_clip.max_norm"), ()),
    "averaging": (("train.average",), ("train.average_start", "train.average_decay")),
    "early_stopping": (("early_stopping.patience",), ("early_stopping.min_delta",)),
}

CNN_PARTS = (
    "model.pool",
    "model.pool_size",
    "model.pool_stride",
    "model.maxout_pieces",
    "model.contrast_norm",
)

# details that mean something only with one switch's value
NEEDS = {
    "model.bn_stats": ("model.norm", "batch"),
    "model.bn_momentum": ("model.norm", "batch"),
    "model.bn_time_steps": ("model.recurrent_norm", "batch"),
    "model.recurrent_dropout_mode": ("model.recurrent_dropout", None),
    "model.dropout_mode": ("model.dropout", None),
    "gradient_noise.gamma": ("gradient_noise.eta", None),
    "train.average_decay": ("train.average", "ema"),
    "loss.smoothing_prior": ("loss.label_smoothing", None),
    "loss.confidence_threshold": ("loss.confidence_penalty", None),
    "regularization.exclude_bias_and_norm": ("regularization.l2", None),
}


def _on(value: Any) -> bool:
    return value not in (0, "none", "", False, [], ())


def _needed(key: str, c: dict[str, Any]) -> bool:
    if key not in NEEDS:
        return True
    switch, value = NEEDS[key]
    return _on(c[switch]) if value is None else c[switch] == value


def techniques(config: Config) -> dict[str, Any]:
    """Every technique ``config`` uses, by group, each with its values (dotted keys)."""
    c = flatten(config.to_dict())
    applies = set(_applicable(c))
    optimizer = for_key("optimizer.name")[c["optimizer.name"]]
    schedule = for_key("schedule.name")[c["schedule.name"]]
    out: dict[str, Any] = {
        "optimizer": {
            "optimizer.name": c["optimizer.name"],
            "optimizer.lr": c["optimizer.lr"],
            **{f"optimizer.{k}": c[f"optimizer.{k}"] for k in optimizer.reads},
        },
        "schedule": {
            "schedule.name": c["schedule.name"],
            **{f"schedule.{k}": c[f"schedule.{k}"] for k in schedule.reads},
        },
        "batches": {"train.batch_size": c["train.batch_size"], "train.epochs": c["train.epochs"]},
    }
    if c["schedule.name"] != "constant":
        every = c["schedule.every"]
        if every == "auto":
            every = "update" if schedule.per_update else "epoch"
        out["schedule"]["schedule.every"] = every
    if c["schedule.warmup_epochs"]:
        out["schedule"]["schedule.warmup_epochs"] = c["schedule.warmup_epochs"]
    for group, (switches, details) in GROUPS.items():
        on = {k: c[k] for k in switches if k in applies and _on(c[k])}
        if on:
            more = {k: c[k] for k in details if k in applies and _on(c[k]) and _needed(k, c)}
            out[group] = {**on, **more}
    # lecture 001's CNN parts: listed when set away from their defaults (max pooling by 2)
    layers = {k: c[k] for k in CNN_PARTS if k in applies and c[k] != SCHEMA[k].default}
    if layers:
        out["cnn"] = layers
    if c["train.precision"] != "fp32":
        out["precision"] = {"train.precision": c["train.precision"]}
    if c["distributed.mode"] != "none":
        out["distributed"] = {"distributed.mode": c["distributed.mode"]}
    return out


def line(used: dict[str, Any]) -> str:
    """The techniques as one line: ``group: key=value, ...; group: ...`` (keys without their
    section)."""

    def value(v: Any) -> str:
        if isinstance(v, (list, tuple)):
            return "[" + ",".join(map(value, v)) + "]"
        return (
            f"{v:g}" if isinstance(v, float) else str(v).lower() if isinstance(v, bool) else str(v)
        )

    return "; ".join(
        f"{group}: " + ", ".join(f"{k.split('.', 1)[1]}={value(v)}" for k, v in values.items())
        for group, values in used.items()
    )
