"""Train a group of runs at once: M runs of one architecture that differ only in seed and
numeric hyperparameters, each in its own run folder exactly as ``trainlab train`` would write
it (config.toml, metrics.jsonl, checkpoints, summary.json), resumable one by one.

Each run is built as if alone (:func:`trainlab.build.parts`: its data split, its initial
weights, its optimizer, schedule, regularization and augmentation, from its own seed), and
keeps its own random streams: the sample order (the run's shuffle generator), and the global
generator that dropout, noise and augmentation draw from, which is swapped in for each run
while its draws are made (:class:`~trainlab.vectorized.stack.Stack` replays them in the
stacked forward pass). An epoch's updates then run on all M models at once: one forward and
backward pass of the stacked models (``torch.func.vmap``), one update of the stacked
parameters (:class:`~trainlab.vectorized.optimizers.StackedOptimizer`, each run's
hyperparameters read from its own optimizer, which its own schedule sets). After the epoch
every run's weights and optimizer state are copied back into its own model and optimizer and
the epoch ends as a single run's does (:func:`trainlab.training.loop.end_epoch`: validation,
the per-epoch schedule, then its callbacks: model selection and early stopping, metrics file,
checkpoints). A run that stops early or diverges leaves the group; the others go on.

Results equal those of the runs trained one at a time up to float rounding: the sample orders
and the random draws are the same numbers; the sums of the forward and backward passes and the
optimizers' arithmetic are ordered differently (a vectorized matrix product, and the update
written as tensor operations where PyTorch's fused kernel computes it in one), which moves the
last bits of a step, and over many steps a little more.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .. import build
from ..api import train_or_resume
from ..config import Config
from ..errors import UserError
from ..runs.rundir import RunDir, refuse_other_config
from ..training.batches import batch_count, epoch_order
from ..training.callbacks import CallbackList, standard_callbacks
from ..training.loop import end_epoch, finish
from ..training.metrics import RunningMetrics
from ..training.progress import Progress
from ..training.state import FitState
from .optimizers import StackedOptimizer, why_not as optimizer_why_not
from .stack import Stack, random_layers


@dataclass
class Member:
    """One run of the group: its state (parts, data, options, run folder), callbacks, and its
    copy of the global generator's state."""

    state: FitState
    hooks: CallbackList
    rng: torch.Tensor  # its global generator's state, between epochs
    generator: torch.Generator | None = None  # the same stream, while an epoch's updates run

    @property
    def epochs(self) -> int:
        return self.state.options.epochs

    def running(self, epoch: int) -> bool:
        s = self.state
        return not s.stop and s.diverged_at is None and s.start <= epoch <= self.epochs


class CannotVectorize(Exception):
    """These runs cannot train together (the message says why); they train one at a time."""


def train_group(
    runs: list[tuple[Config, Path]],
    strict: bool = False,
    *,
    test: bool = True,
    on_epoch: Callable[[int, list[dict | None]], None] | None = None,
) -> list[dict]:
    """Train, resume or read each ``(config, folder)`` run, the unfinished ones together; the
    summaries in order. If they cannot train together (:func:`check`), they train one at a
    time, or, with ``strict``, that is one line saying why. ``test=False``: never evaluate
    the test split (search's trials); ``on_epoch(epoch, metrics)``: after each epoch of the
    group, with each run's metrics of that epoch (None for a run that did not train it); it
    may raise to stop the group (search's pruner), which then writes nothing more."""
    results: list[dict | None] = [None] * len(runs)
    members: dict[int, Member] = {}
    threads = torch.get_num_threads()
    try:
        for i, (config, folder) in enumerate(runs):
            opened = _open(config, Path(folder))
            if isinstance(opened, dict):
                results[i] = opened
            else:
                members[i] = opened
        if members:
            if members[next(iter(members))].state.options.threads:
                torch.set_num_threads(members[next(iter(members))].state.options.threads)
            reason = check(list(members.values()))
            if reason is not None:
                raise CannotVectorize(reason)
            for member in members.values():
                torch.set_rng_state(member.rng)
                member.hooks.on_fit_start(member.state)  # a resumed run sets it here
                member.rng = torch.get_rng_state()
            trained = _train(list(members.values()), runs_of(members, len(runs)), test, on_epoch)
            for i, summary in zip(members, trained):
                results[i] = summary
    except CannotVectorize as e:
        for member in members.values():
            if not member.state.history and member.state.run.metrics.is_file():
                member.state.run.metrics.unlink()  # written at its start: nothing trained
        _close(members.values(), failed=True)
        if strict:
            raise UserError(f"--vectorize on: these runs cannot train together: {e}") from None
        members = {}
        for i, (config, folder) in enumerate(runs):
            if results[i] is None:
                results[i] = train_or_resume(config, Path(folder), test=test)
    except BaseException:  # Ctrl-C, or an error: every run's checkpoints are atomic
        for member in members.values():
            member.hooks.on_fit_abort(member.state)
        _close(members.values(), failed=True)
        raise
    finally:
        torch.set_num_threads(threads)
    _close(members.values(), failed=False)
    return results


def _open(config: Config, folder: Path) -> Member | dict:
    """The run in ``folder``: its summary if finished; else built (new, or resumed from its
    checkpoint by its callbacks) as :func:`trainlab.api.train` and :func:`~trainlab.api.resume`
    build it, holding its folder."""
    refuse_other_config(folder, config)
    existing = RunDir(folder)
    if existing.config.exists():
        done = existing.read_summary()
        if done is not None:
            return done
        run = RunDir.open(folder, write=True)
        try:
            run.check_config(run.last)
            config = run.read_config()
            splits = build.load_data(config, build.device(config))
        except BaseException:
            run.close()
            raise
    else:
        device = build.device(config)
        build.check_device(config, device)
        splits = build.load_data(config, device)  # bad data leaves no folder, as in train
        run = RunDir.create(folder, config)
    try:
        parts = build.parts(config, splits)
        options = build.fit_options(config, parts)
        state = FitState.new(options, splits, parts, run)
        progress = Progress(options.epochs, "quiet")
        hooks = CallbackList(standard_callbacks(options, progress, None, True, []))
        return Member(state, hooks, torch.get_rng_state())  # the generator after its build
    except BaseException:
        run.discard_if_unstarted()
        run.close()
        raise


def _close(members, failed: bool) -> None:
    for member in members:
        run = member.state.run
        if failed:
            run.discard_if_unstarted()
        run.close()


def check(members: list[Member]) -> str | None:
    """None if ``members`` can train together, else why not (one phrase)."""
    first = members[0].state
    shapes = {
        tuple(
            (n, tuple(p.shape), p.requires_grad) for n, p in m.state.parts.model.named_parameters()
        )
        for m in members
    }
    if len(shapes) != 1:
        return "their models differ in architecture"
    for m in members:
        s, p = m.state, m.state.parts
        if s.data.task == "multilabel":
            return "multi-label targets"
        if p.step.precision is not None or p.step.forward is not p.model:
            return "train.precision or train.compile"
        if p.step.aux_weight or p.step.reevaluates:
            return "auxiliary heads or an optimizer that differentiates the loss again"
        if p.average is not None or s.options.diagnostics or s.options.tensorboard:
            return "train.average, diagnostics or TensorBoard"
        if p.step.regularization is not None and p.step.regularization.activations is not None:
            return "regularization.l1_activations"
        if p.batch_size != first.parts.batch_size or p.min_size != first.parts.min_size:
            return "their batch sizes differ"
        if (
            len(s.data.x_train) != len(first.data.x_train)
            or s.options.shuffle != first.options.shuffle
        ):
            return "their training splits differ in size"
        if s.data.x_train.device != first.data.x_train.device:
            return "their devices differ"
        if getattr(p.loss_fn, "generator", None) is not None:
            return "loss.target_noise"
        if m.hooks.per_update():
            return "a callback that acts after every update"
        if p.model.__class__ is not first.parts.model.__class__:
            return "their models differ in architecture"
        norms = [x for x in p.model.modules() if isinstance(x, nn.modules.batchnorm._BatchNorm)]
        first_norms = [
            x for x in first.parts.model.modules() if isinstance(x, nn.modules.batchnorm._BatchNorm)
        ]
        if [x.momentum for x in norms] != [x.momentum for x in first_norms]:
            return "their batch-norm momenta differ"
        kinds = [type(x) for x in random_layers(p.model)]
        if kinds != [type(x) for x in random_layers(first.parts.model)]:
            return "their dropout or noise layers differ"
    active = {
        (m.state.parts.step.augmentation is not None, m.state.parts.step.noisy) for m in members
    }
    if len(active) != 1:
        return "some runs augment or add noise and others do not"
    return optimizer_why_not([m.state.parts.optimizer for m in members])


def runs_of(members: dict[int, Member], count: int) -> list[int | None]:
    """For each of the ``count`` runs, its place among ``members`` (None: already finished)."""
    places = {i: k for k, i in enumerate(members)}
    return [places.get(i) for i in range(count)]


def _train(members: list[Member], places: list[int | None], test: bool, on_epoch) -> list[dict]:
    """Train ``members`` together to their ends; their summaries (written to their folders).
    ``on_epoch`` as in :func:`train_group`, its list in the order of ``places``."""
    start = min((m.state.start for m in members), default=1)
    last = max((m.epochs for m in members), default=0)
    stack = None
    with warnings.catch_warnings():
        # the runs' schedulers step optimizers whose step() this engine does for them
        warnings.filterwarnings("ignore", message=".*lr_scheduler.step.*optimizer.step.*")
        for epoch in range(start, last + 1):
            group = [m for m in members if m.running(epoch)]
            if not group:
                continue
            models = [m.state.parts.model for m in group]
            if stack is None:
                stack = Stack(models)
            else:  # the weights of the epoch before (and recomputed batch-norm statistics)
                stack.restack(models)
            if epoch == start:
                try:
                    _epoch(group, epoch, stack)
                except RuntimeError as e:  # vmap cannot stack a layer of this model
                    if any(
                        m.state.history and m.state.history[-1]["epoch"] == epoch for m in group
                    ):
                        raise
                    line = (str(e).strip().splitlines() or [type(e).__name__])[0]
                    raise CannotVectorize(f"the model cannot be stacked ({line})") from None
            else:
                _epoch(group, epoch, stack)
            if on_epoch is not None:
                ended = {id(m): m.state.history[-1] for m in group if m.state.diverged_at is None}
                on_epoch(
                    epoch,
                    [None if k is None else ended.get(id(members[k])) for k in places],
                )
    summaries = []
    for m in members:
        m.hooks.on_fit_end(m.state)
        torch.set_rng_state(m.rng)
        summary = finish(m.state, test=test, writes=True)
        summary["trained_together"] = len(members)
        m.state.run.write_summary(summary)
        summaries.append(summary)
    return summaries


def _epoch(group: list[Member], epoch: int, stack: Stack) -> None:
    """One epoch of every run in ``group``, together, then each run's end of the epoch."""
    began = time.perf_counter()
    for m in group:
        m.state.epoch_started = began
        m.hooks.on_epoch_start(m.state, epoch)
    rates = [m.state.parts.optimizer.param_groups[0]["lr"] for m in group]
    losses, accuracies = _updates(group, stack)
    for k, m in enumerate(group):
        s = m.state
        torch.set_rng_state(m.rng)  # what the run's checkpoint records
        metrics = end_epoch(s, epoch, losses[k], accuracies[k], rates[k])
        if metrics is None:
            s.diverged_at = epoch
        else:
            s.history.append(metrics)
            m.hooks.on_epoch_end(s, metrics)
        s.elapsed += time.perf_counter() - began
        m.rng = torch.get_rng_state()


def _updates(group: list[Member], stack: Stack) -> tuple[list[float], list[float | None]]:
    """An epoch's updates of every run in ``group`` at once; each run's mean training loss and
    accuracy over them (as :class:`~trainlab.training.metrics.RunningMetrics` computes them)."""
    states = [m.state for m in group]
    parts = [s.parts for s in states]
    first = parts[0]
    for m in group:  # each run's stream, drawn from without swapping the global generator
        m.generator = m.generator or torch.Generator()
        m.generator.set_state(m.rng)
    named = [dict(p.model.named_parameters()) for p in parts]
    optimizer = StackedOptimizer(stack.params, [p.optimizer for p in parts], named)
    optimizer.load()
    xs, ys = _epoch_data(states)
    n = xs.shape[1]
    regularizations = [p.step.regularization for p in parts]
    noisy = first.step.noisy
    randomized = first.step.augmentation is not None or noisy or bool(random_layers(first.model))
    weight_noise = noisy and any(r.weight_noise for r in regularizations)
    penalty = _Penalty([p.step.regularization for p in parts], named, stack.params)
    per_update = [p.schedule for p in parts if p.step.per_update_schedule]
    logits_seen = []
    count = batch_count(n, first.batch_size, first.min_size)
    for i in range(count):
        a, b = i * first.batch_size, n if i == count - 1 else (i + 1) * first.batch_size
        xb, yb = xs[:, a:b], ys[:, a:b]
        draws, params = None, stack.params
        if randomized:
            xb, draws, noises = _draws(group, stack, xb, weight_noise, named)
            if weight_noise:
                params = _noisy(stack.params, noises)
        logits, objective = stack.forward(xb, yb, first.loss_fn, draws, params)
        if penalty.active:
            objective = objective + penalty(params)
        grads = torch.autograd.grad(
            objective.sum(), [params[name] for name in stack.trainable], allow_unused=True
        )
        optimizer.step(stack.params, dict(zip(stack.trainable, grads)), objective.detach())
        for schedule in per_update:
            schedule.after_update()
        logits_seen.append(logits.detach())
    optimizer.store()
    stack.unstack()
    for m in group:
        m.rng = m.generator.get_state()
    return _running(states, torch.cat(logits_seen, 1), ys)


def _epoch_data(states: list[FitState]) -> tuple[torch.Tensor, torch.Tensor]:
    """Every run's training split in the order its epoch presents it (its own permutation from
    its own shuffle generator, as :func:`~trainlab.training.batches.epoch_order` draws it),
    stacked (M, N, ...)."""
    ordered = [
        epoch_order(s.data.x_train, s.data.y_train, s.options.shuffle, s.shuffle) for s in states
    ]
    return torch.stack([x for x, _ in ordered]), torch.stack([y for _, y in ordered])


def _draws(group, stack: Stack, xb: torch.Tensor, weight_noise: bool, named):
    """Each run's random numbers for one update, from its own stream, in the order its single
    run draws them: augmentation, input noise, weight noise, then its dropout and noise layers;
    the batch as the models see it, the layers' draws stacked, and the weight noise per
    parameter name (or None). Augmentation and noise draw from the global generator inside
    their own code: for them the run's state is swapped in and out of it; the layers draw from
    the run's generator directly."""
    inputs, per_run, weights = [], [], []
    first = group[0].state.parts.step
    swap = first.augmentation is not None or first.noisy
    for k, m in enumerate(group):
        step = m.state.parts.step
        x = xb[k]
        if swap:
            torch.set_rng_state(m.generator.get_state())
            if step.augmentation is not None:
                x = step.augmentation(x)
            if step.noisy:
                x = step.regularization.inputs(x)
                if weight_noise:
                    weights.append(_weight_noise(step.regularization, named[k]))
            per_run.append(stack.draws(k, x))
            m.generator.set_state(torch.get_rng_state())
        else:
            per_run.append(stack.draws(k, x, m.generator))
        inputs.append(x)
    draws = [torch.stack(d) for d in zip(*per_run)] if per_run and per_run[0] else None
    noises = None
    if weight_noise:
        noises = {n: torch.stack([w[n] for w in weights]) for n in weights[0]}
    return torch.stack(inputs) if swap else xb, draws, noises


def _weight_noise(regularization, named: dict) -> dict:
    """One run's weight noise, sigma * N(0, 1) per penalized parameter in its own order (that of
    :meth:`~trainlab.training.regularization.Regularization.perturb_weights`)."""
    order = {id(p): j for j, p in enumerate(regularization.params)}
    names = sorted(
        (n for n, p in named.items() if id(p) in order), key=lambda n: order[id(named[n])]
    )
    return {n: regularization.weight_noise * torch.randn_like(named[n]) for n in names}


def _noisy(params: dict, noises: dict) -> dict:
    """The parameters with weight noise added (new leaves: the gradient is taken there and
    applied to the clean weights, Graves 2011)."""
    out = dict(params)
    for name, z in noises.items():
        out[name] = (params[name].detach() + z).requires_grad_(params[name].requires_grad)
    return out


class _Penalty:
    """Each run's weight penalties (L2, L1, per-layer L2) on the stacked parameters, with the
    formulas of :class:`~trainlab.training.regularization.Regularization`, as a vector of M."""

    def __init__(self, regularizations, named, params):
        first = regularizations[0]
        ids = [{id(p) for p in r.params} for r in regularizations]
        self.names = [n for n, p in named[0].items() if id(p) in ids[0]]
        self.l2 = torch.tensor([r.l2 for r in regularizations])
        self.l1 = torch.tensor([r.l1 for r in regularizations])
        layers = [{id(p): s for s, p in r.per_layer} for r in regularizations]
        self.per_layer = {}
        for name in named[0]:
            strengths = [layers[k].get(id(named[k][name]), 0.0) for k in range(len(named))]
            if any(strengths):
                self.per_layer[name] = torch.tensor(strengths)
        self.active = bool(self.l2.any() or self.l1.any() or self.per_layer) and first is not None

    def __call__(self, params: dict) -> torch.Tensor:
        total = 0
        if self.l2.any():
            norms = torch.stack([params[n].flatten(1).norm(dim=1) for n in self.names])
            total = total + self.l2.to(norms) / 2 * norms.pow(2).sum(0)
        if self.l1.any():
            norms = torch.stack([params[n].flatten(1).norm(p=1, dim=1) for n in self.names])
            total = total + self.l1.to(norms) * norms.sum(0)
        for name, strength in self.per_layer.items():
            w = params[name]
            total = total + strength.to(w) / 2 * w.flatten(1).pow(2).sum(1)
        return total


def _running(states: list[FitState], logits: torch.Tensor, ys: torch.Tensor):
    """Each run's mean loss and accuracy over its epoch's training batches ``logits``
    (M, N, ...) against the labels in their order ``ys``."""
    loss_fn = states[0].parts.loss_fn
    losses, accuracies = [], []
    for k in range(len(states)):
        running = RunningMetrics(ys[k], loss_fn)
        running.add(logits[k])
        loss, accuracy = running.result()
        losses.append(loss if math.isfinite(loss) else float("nan"))
        accuracies.append(accuracy)
    return losses, accuracies


__all__ = ["CannotVectorize", "check", "train_group"]
