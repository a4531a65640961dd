"""From a resolved configuration to the things that train: the one place that reads a config.

Every component (data sources, models, losses, optimizers, schedules, regularization,
augmentation, the training step, the epoch loop) takes explicit keyword arguments; the
functions here read the typed :class:`~trainlab.config.Config`, derive what is derived once
(the device, the task kind, the batch size as a number, the optimizer's switch step) and call
the components with it. The order is fixed and seeded (``seed``), so that the same config gives
the same numbers.

    config -> load_data -> parts (model, loss, optimizer, schedule, step) -> fit_options -> fit
"""

from __future__ import annotations

import os

import torch
from torch import nn

from . import data as data_sources, models, optim
from .config import Config, replace
from .config.resolve import task as task_of
from .config.techniques import techniques
from .data import Splits, prepare
from .errors import UserError
from .imports import is_import_path
from .registry import for_key
from .training import losses, precision
from .training.augment import Augmentation
from .training.averaging import IterateAverage
from .training.batches import batch_count
from .training.losses import LossFn
from .training.regularization import Regularization, decay_groups
from .training.schedules import Schedule
from .training.state import FitOptions, Parts
from .training.step import Step


def device_named(name: str) -> torch.device:
    """``auto`` -> CUDA when present, else CPU; ``cuda`` only where CUDA is."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("device = 'cuda' but CUDA is not available here (use auto or cpu)")
    return torch.device(name)


def device(config: Config) -> torch.device:
    """The device ``device`` names (:func:`device_named`)."""
    return device_named(config.device)


def load_data(config: Config, on: torch.device | str = "cpu") -> Splits:
    """Read ``data.name`` (a registered source, or the user's ``package.module:callable`` with
    ``data.args``), check it, split off validation (and test if the source has none) with
    ``seed``, normalize on the training split, and put it on ``on``. Multi-label targets (a
    2-D 0/1 ``y``) need ``loss.name = binary_cross_entropy``: refused here otherwise."""
    d = config.data
    if is_import_path(d.name):
        from .data.imported import read_callable

        arrays = read_callable(d.name, dict(d.args))
    else:
        arrays = data_sources.read(d.name, config.seed, d.to_dict())
    splits = prepare(
        arrays,
        seed=config.seed,
        val_fraction=d.val_fraction,
        test_fraction=d.test_fraction,
        normalize=d.normalize,
        device=on,
        remap_labels=d.remap_labels,
    )
    if splits.task == "multilabel":  # known once the data is read: refused before any folder
        losses.check_multilabel(config.loss.name, config.loss.confidence_penalty)
    return splits


def model(config: Config, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """The network ``model.*`` describes for samples of ``input_shape``, initialized,
    pretrained and frozen as it says (not yet seeded: :func:`parts` seeds first)."""
    m = config.model
    aux_heads = config.loss.aux_weight > 0
    if is_import_path(m.name):
        from .models.imported import build_callable

        net = build_callable(m.name, input_shape, num_classes, dict(m.args))
    else:
        net = models.make(m.name, input_shape, num_classes, m.to_dict(), aux_heads=aux_heads)
    models.initialize(
        net,
        m.init,
        std=m.init_std,
        a=m.init_range,
        value=m.init_value,
        bias=m.bias_value,
        recurrent=m.init_recurrent,
    )
    if m.pretrained:
        models.load_pretrained(net, m.pretrained)
    if m.freeze:
        models.freeze(net, list(m.freeze))
    return net


def loss(
    config: Config,
    task: str | None = None,
    generator: torch.Generator | None = None,
    labels: torch.Tensor | None = None,
    classes: int | None = None,
) -> LossFn:
    """The divergence ``loss.*`` describes, for a ``task`` (classification, regression,
    multilabel; by default what ``data.name``'s registry entry says). ``labels``: the training
    split's, of ``classes`` classes, whose frequencies ``loss.smoothing_prior = unigram``
    smooths toward."""
    s = config.loss
    task = task or task_of(config.data.name)
    prior = None
    if s.smoothing_prior == "unigram" and task != "regression":
        if labels is None:
            raise ValueError("loss.smoothing_prior = 'unigram' needs the training labels")
        if classes is None:
            classes = labels.shape[1] if labels.dim() == 2 else int(labels.max()) + 1
        prior = losses.class_prior(labels, classes).to(labels.device)
    return losses.make(
        s.name,
        label_smoothing=s.label_smoothing,
        confidence_penalty=s.confidence_penalty,
        confidence_threshold=s.confidence_threshold,
        target_noise=s.target_noise,
        prior=prior,
        task=task,
        generator=generator,
    )


def optimizer(config: Config, params, updates_per_epoch: int = 1) -> torch.optim.Optimizer:
    """The optimizer ``optimizer.*`` names over ``params``, inside the gradient transforms
    ``gradient_noise.*`` and ``gradient_clip.*`` ask for. ``train.switch_to_sgd_at`` = e makes
    it SWATS with a switch after (e - 1) * ``updates_per_epoch`` updates."""
    o, switch = config.optimizer, config.train.switch_to_sgd_at
    inner = optim.make(
        o.name,
        params,
        lr=o.lr,
        options=o.to_dict(),
        switch_at=(switch - 1) * updates_per_epoch if switch else None,
    )
    noise, clip = config.gradient_noise, config.gradient_clip
    return optim.with_transforms(
        inner,
        noise_eta=noise.eta,
        noise_gamma=noise.gamma,
        seed=config.seed,
        clip_norm=clip.max_norm,
        clip_value=clip.max_value,
    )


def schedule(config: Config, opt: torch.optim.Optimizer, updates_per_epoch: int) -> Schedule:
    """The learning-rate schedule ``schedule.*`` describes over ``train.epochs``."""
    s = config.schedule
    return Schedule(
        opt,
        s.name,
        updates_per_epoch=updates_per_epoch,
        epochs=config.train.epochs,
        lr=config.optimizer.lr,
        monitor=config.early_stopping.monitor,
        warmup_epochs=s.warmup_epochs,
        every=s.every,
        **{k: v for k, v in s.to_dict().items() if k not in ("name", "warmup_epochs", "every")},
    )


def averaging(config: Config, net: nn.Module, updates_per_epoch: int) -> IterateAverage | None:
    """``train.average``: the average of ``net``'s iterates from ``train.average_start`` on (a
    fraction of ``train.epochs`` below 1, else whole epochs), or None."""
    t = config.train
    if t.average == "none":
        return None
    start = t.average_start
    epochs = round(start * t.epochs) if start < 1 else int(start)
    return IterateAverage(net, t.average, start=epochs * updates_per_epoch, decay=t.average_decay)


def regularization(config: Config, net: nn.Module) -> Regularization:
    r = config.regularization
    return Regularization(
        net,
        l1=r.l1,
        l2=r.l2,
        l2_per_layer=r.l2_per_layer,
        l1_activations=r.l1_activations,
        input_noise=r.input_noise,
        weight_noise=r.weight_noise,
        exclude_bias_and_norm=r.exclude_bias_and_norm,
    )


def augmentation(config: Config, input_shape: tuple[int, ...]) -> Augmentation:
    a = config.augment
    return Augmentation(
        input_shape, shift=a.shift, stretch=a.stretch, rotate=a.rotate, noise=a.noise
    )


def batch_size(config: Config, samples: int) -> int:
    """``train.batch_size`` as a number of samples: "full" is all ``samples`` (batch GD)."""
    b = config.train.batch_size
    return samples if b == "full" else min(b, samples)


def uses_batch_norm(net: nn.Module) -> bool:
    """Whether ``net`` normalizes with batch statistics (which need 2 samples per batch)."""
    return any(
        isinstance(m, nn.modules.batchnorm._BatchNorm)
        or getattr(m, "batch_statistics", False)  # recurrent batch norm
        for m in net.modules()
    )


def check_device(config: Config, on: torch.device) -> None:
    """One line when ``on`` cannot run ``train.precision`` / ``train.compile`` (or a distributed
    mode is asked to use them), or when ``model.name`` names a callable that cannot be imported:
    both before anything is written."""
    precision.check(config.train.precision, config.train.compile, on, config.distributed.mode)
    check_machine(config)
    if is_import_path(config.model.name):
        from .imports import load_callable

        load_callable(config.model.name, "model.name")


# A process of a distributed mode is a Python interpreter with PyTorch (~300 MB): more than a
# few per core only waits, and thousands exhaust the machine.
PROCESSES_PER_CORE = 4


def check_machine(config: Config) -> None:
    """The counts this machine can honour: ``train.threads`` up to its cores (PyTorch's OpenMP
    crashes far above), and a distributed mode's processes up to
    :data:`PROCESSES_PER_CORE` per core (at least 8). Checked here rather than with the
    config's values, so that a run made on a larger machine still evaluates on this one."""
    cores = os.cpu_count() or 1
    if config.train.threads > cores:
        raise UserError(
            f"train.threads = {config.train.threads}: this machine has {cores} cores; "
            f"expected 0 (PyTorch's default) to {cores}"
        )
    d = config.distributed
    if d.mode == "none":
        return
    limit = max(8, PROCESSES_PER_CORE * cores)
    servers = d.servers if "servers" in for_key("distributed.mode")[d.mode].reads else 0
    count = d.workers + d.backup_workers + servers
    if count > limit:
        raise UserError(
            f"distributed.workers = {d.workers} (with {d.backup_workers} backup workers and "
            f"the servers: {count} processes): this machine has {cores} cores; expected at "
            f"most {limit} processes"
        )


def parts(config: Config, data: Splits, net: nn.Module | None = None) -> Parts:
    """Every part of a run on ``data``, built in a fixed order from ``seed``: the model (``net``
    when the caller brings their own), the loss, the optimizer, the schedule, the step."""
    on = data.x_train.device
    check_device(config, on)
    torch.manual_seed(config.seed)
    if net is None:
        net = model(config, data.input_shape, data.num_classes)
    net = net.to(on)
    if config.loss.aux_weight and not hasattr(net, "aux_outputs"):
        raise UserError(
            f"loss.aux_weight = {config.loss.aux_weight}: the model has no auxiliary heads "
            "(they go on every hidden block but the last: mlp with 2+ model.hidden layers, "
            "cnn1d/cnn2d with 2+ model.channels blocks)"
        )
    n = len(data.x_train)
    size = batch_size(config, n)
    min_size = 2 if uses_batch_norm(net) else 1  # batch statistics need 2 samples
    if size < min_size:
        raise UserError(
            "train.batch_size = 1 with model.norm (or model.recurrent_norm) = 'batch': "
            "batch norm needs at least 2 samples per batch (use a larger batch, or "
            "'layer'/'none')"
        )
    updates = batch_count(n, size, min_size)
    opt = optimizer(config, decay_groups(net, config.regularization.exclude_bias_and_norm), updates)
    loss_fn = loss(config, data.task, labels=data.y_train, classes=data.num_classes)
    sched = schedule(config, opt, updates)
    t = config.train
    step = Step(
        net,
        loss_fn,
        opt,
        regularization=regularization(config, net),
        augmentation=augmentation(config, data.input_shape),
        schedule=sched,
        aux_weight=config.loss.aux_weight,
        precision=precision.Precision(t.precision, on.type),
        forward=precision.compiled(net, on) if t.compile else None,
        clone_logits=t.compile and on.type == "cuda" and precision.CUDA_MODE == "reduce-overhead",
    )
    average = averaging(config, net, updates)
    return Parts(net, loss_fn, opt, sched, step, size, min_size, updates, average)


def bn_stats(config: Config, net: nn.Module, updates_per_epoch: int) -> str:
    """The batch-norm statistics ``net`` is evaluated with: ``model.bn_stats``, or for "auto"
    lecture 000's population statistics (s129) when an epoch has fewer updates than a running
    average with momentum m needs to settle, about 1 / m (0.1: 10 updates; with one update per
    epoch, full-batch Rprop's running averages are a few stale batches' worth and validation
    fell to 8% while training reached 62%), and PyTorch's running averages otherwise (the
    default recipe, MNIST-1D in batches of 64, makes some 50 updates an epoch). Only
    ``nn.BatchNorm`` layers are recomputed; a model without them keeps "running"."""
    chosen = config.model.bn_stats
    if chosen != "auto":
        return chosen
    momenta = [m.momentum for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if any(m is not None and updates_per_epoch < 1 / m for m in momenta):
        return "population"
    return "running"


def fit_options(config: Config, parts: Parts) -> FitOptions:
    """How the epoch loop runs, from ``train.*``, ``early_stopping.*`` and the rest; the
    batch-norm statistics (:func:`bn_stats`) from the ``parts`` built from ``config``."""
    t, es = config.train, config.early_stopping
    stats = bn_stats(config, parts.model, parts.updates)
    return FitOptions(
        epochs=t.epochs,
        seed=config.seed,
        shuffle=t.shuffle,
        monitor=es.monitor,
        patience=es.patience,
        min_delta=es.min_delta,
        restore_best=es.restore_best,
        population_statistics=stats == "population",
        checkpoint_seconds=t.checkpoint_seconds,
        threads=t.threads,
        diagnostics=config.diagnostics,
        tensorboard=config.logging.tensorboard,
        optimizer=config.optimizer.name,
        lr=config.optimizer.lr,
        techniques=techniques(replace(config, **{"model.bn_stats": stats})),
    )
