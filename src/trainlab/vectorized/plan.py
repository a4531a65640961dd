"""Which runs of a grid can train together (:mod:`trainlab.vectorized.engine`), read from their
configs before anything is built.

Runs train together when their configs are equal except for the seed and the numeric keys in
:data:`VARY` (rates, momenta, betas, weight decay, penalty, noise and dropout strengths,
initialization scales, schedule, early-stopping and epoch counts), and none of them uses a
technique that needs a model of its own (:func:`why_not`). A key whose value switches a layer
or a code path on or off (dropout p > 0, clipping, gradient noise, augmentation) must agree in
being on. A group is split so that every worker process gets one, and so that its stacked data
and models fit in :data:`MEMORY_FRACTION` of the machine's memory.
"""

from __future__ import annotations

import math
import os

from ..config import Config
from ..errors import UserError
from ..models import MODELS

# Keys whose values may differ between runs trained together.
VARY = {
    "seed",
    "optimizer.lr",
    "optimizer.momentum",
    "optimizer.betas",
    "optimizer.eps",
    "optimizer.weight_decay",
    "optimizer.alpha",
    "optimizer.rho",
    "regularization.l1",
    "regularization.l2",
    "regularization.l2_per_layer",
    "regularization.input_noise",
    "regularization.weight_noise",
    "model.dropout",
    "model.input_dropout",
    "model.hidden_noise",
    "model.init_std",
    "model.init_range",
    "model.init_value",
    "model.bias_value",
    "gradient_noise.eta",
    "gradient_noise.gamma",
    "gradient_clip.max_norm",
    "gradient_clip.max_value",
    "augment.shift",
    "augment.stretch",
    "augment.rotate",
    "augment.noise",
    "train.epochs",
    "train.checkpoint_seconds",
}
VARY_PREFIXES = ("schedule.", "early_stopping.")
SCHEDULE_SHARED = ("schedule.name", "schedule.every")
# Keys in VARY that add a layer or a code path when not 0: runs must agree on that.
SWITCHES = (
    "model.dropout",
    "model.input_dropout",
    "model.hidden_noise",
    "gradient_noise.eta",
    "gradient_clip.max_norm",
    "gradient_clip.max_value",
    "regularization.weight_noise",
    "regularization.input_noise",
    "augment.shift",
    "augment.stretch",
    "augment.rotate",
    "augment.noise",
)
OPTIMIZERS = (
    "sgd",
    "momentum",
    "nesterov",
    "adagrad",
    "rmsprop",
    "adadelta",
    "adam",
    "adamw",
    "rprop",
)
MEMORY_FRACTION = 0.25  # of the machine's memory, for one group's stacked data and models
MIN_GROUP = 4  # a smaller group gains little over its runs trained one at a time
# On the CPU, the widest hidden layer of an MLP that trains faster in a group than alone
# (BENCHMARKS.md, "Many small models at once": [10] and [100, 100] gain; [256, 256] breaks
# even; the default CNN is 27% slower in a group: compute-bound, and vmap splits batch norm).
CPU_WIDTH = 128


def why_not(config: Config) -> str | None:
    """None if a run of ``config`` can train in a group, else why not (one phrase)."""
    c = config
    o = c.optimizer
    if c.distributed.mode != "none":
        return f"distributed.mode = {c.distributed.mode} trains one model at a time"
    if o.name not in OPTIMIZERS:
        return f"optimizer.name = {o.name} is not elementwise or not yet vectorized"
    if o.name in ("sgd", "momentum", "nesterov") and o.momentum_form != "torch":
        return "optimizer.momentum_form = lecture is not yet vectorized"
    if o.name == "rmsprop" and o.eps_inside_sqrt:
        return "optimizer.eps_inside_sqrt is not yet vectorized"
    if o.name == "adam" and not o.bias_correction:
        return "optimizer.bias_correction = false is not yet vectorized"
    if c.train.switch_to_sgd_at:
        return "train.switch_to_sgd_at (SWATS switches its rule mid-run)"
    if c.train.average != "none":
        return "train.average keeps an average per update"
    if c.train.precision != "fp32" or c.train.compile:
        return "train.precision and train.compile are for one model"
    if c.diagnostics or c.logging.tensorboard:
        return "diagnostics and TensorBoard record one model"
    if c.loss.aux_weight or c.loss.target_noise:
        return "loss.aux_weight and loss.target_noise are not yet vectorized"
    if c.regularization.l1_activations:
        return "regularization.l1_activations is not yet vectorized"
    name = c.model.name
    if name not in MODELS:
        return f"model.name = {name} (your own model) is not yet vectorized"
    if "recurrent_norm" in MODELS[name].reads:
        return f"model.name = {name}: recurrent models draw inside their time loop"
    return None


def why_not_worth_it(config: Config) -> str | None:
    """None if a run of ``config`` trains faster in a group than alone here, else why not:
    on CUDA every group is worth it (one kernel for many models); on the CPU only small MLPs
    (hidden layers of at most :data:`CPU_WIDTH` units): a larger or convolutional model keeps a
    core busy alone. ``--vectorize on`` groups them all the same."""
    import torch

    cuda = config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available())
    if cuda:
        return None
    m = config.model
    if m.name == "mlp" and max(m.hidden, default=0) <= CPU_WIDTH:
        return None
    if m.name == "linear":
        return None
    what = f"mlp with a {max(m.hidden)}-unit layer" if m.name == "mlp" else m.name
    return f"model.name = {what} is compute-bound on the CPU: it trains no faster in a group"


def _flat(tree: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in tree.items():
        if isinstance(v, dict) and k != "args":
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def group_key(config: Config) -> str:
    """What runs trained together must share: every key but those that may vary, and whether
    each switch is on."""
    flat = _flat(config.to_dict())
    shared = {
        k: v
        for k, v in flat.items()
        if k not in VARY and (not k.startswith(VARY_PREFIXES) or k in SCHEDULE_SHARED)
    }
    for key in SWITCHES:
        shared[key + ":on"] = bool(flat.get(key))
    return repr(sorted(shared.items()))


def group_runs(configs: list[Config], jobs: int, strict: bool = False) -> list[list[int]]:
    """``configs`` (indices) in groups that train together; a run that cannot is a group of
    its own (``strict``, ``--vectorize on``: one line saying why), and so is one that would
    train no faster in a group (:func:`why_not_worth_it`), unless ``strict``. Groups are split
    into one per worker (of ``jobs``), of at least :data:`MIN_GROUP` runs (measured: four
    groups of 5 tiny runs on 2 cores took 2.6 s where two of 10 took 2.5 s, and one of 20
    with both cores 2.0 s: a worker that starts late adds a tail), and by memory
    (:func:`max_models`)."""
    groups: dict[str, list[int]] = {}
    alone = []
    for i, config in enumerate(configs):
        reason = why_not(config)
        if reason is not None and strict:
            raise UserError(f"--vectorize on: {reason}; use --vectorize auto or off")
        if reason is not None or (not strict and why_not_worth_it(config) is not None):
            alone.append([i])
        else:
            groups.setdefault(group_key(config), []).append(i)
    out = []
    for members in groups.values():
        limit = max_models(configs[members[0]])
        split = min(jobs, len(members) // MIN_GROUP)
        parts = max(math.ceil(len(members) / limit), split, 1)
        size = math.ceil(len(members) / parts)
        out += [members[k : k + size] for k in range(0, len(members), size)]
    if strict and not any(len(g) > 1 for g in out):
        raise UserError(
            "--vectorize on: no two runs differ only in seed and numeric hyperparameters; use "
            "--vectorize auto or off"
        )
    return out + alone


# Values per data set (samples x features), roughly, for the memory estimate.
DATA_VALUES = {
    "mnist1d": 5_000 * 40,
    "mnist": 70_000 * 784,
    "fashion_mnist": 70_000 * 784,
    "cifar10": 60_000 * 3 * 32 * 32,
}


def data_values(config: Config) -> int:
    """About how many numbers the data of ``config`` holds: known sizes, the toy sources'
    ``data.samples`` (x ``data.seq_len`` for sequences), a data file's size in float32s."""
    d = config.data
    if d.name in DATA_VALUES:
        return DATA_VALUES[d.name]
    if d.path and os.path.isfile(d.path):
        return os.path.getsize(d.path) // 4 * 4  # compressed files expand: a margin
    return d.samples * max(d.seq_len, 2) * 2


def max_models(config: Config) -> int:
    """How many runs of ``config`` fit in one group: :data:`MEMORY_FRACTION` of the machine's
    memory over a generous estimate of one run's (its data three times in float32: the splits,
    the epoch's order, the batch as the model sees it; plus 64 MB for its model, optimizer state
    and activations); at least 1."""
    per_run = 3 * 4 * data_values(config) + 64 * 2**20
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory = 8 * 2**30
    return max(1, int(MEMORY_FRACTION * memory // per_run))
