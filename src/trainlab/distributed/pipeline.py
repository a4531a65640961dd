"""``distributed.mode = pipeline``: model parallelism, the model cut into stages, one process
each (lecture 003, ``003_4f959921065895eb.txt``, slide 51: "Model parallelism: partition model
across multiple GPUs", Dean et al. 2012, "Large scale distributed deep networks"), fed with
micro-batches on the GPipe schedule (Huang et al. 2019, "GPipe").

Split: the model's layers, in the order its forward pass applies them, are grouped into units (a
layer with weights and the layers without weights or normalization that follow it); the units
are cut into ``S = distributed.workers`` consecutive stages so that the largest stage's parameter
count is as small as possible (the linear partition problem, solved by dynamic programming).
Models that are not one sequence of layers (recurrent ones), models with auxiliary heads (they
read layers that another stage holds) and models with fewer units than stages are refused.

One update on a minibatch of ``n`` samples cut into ``M = distributed.micro_batches``
micro-batches ``m_1..m_M`` of near-equal sizes ``n_j``:

- forward: for j = 1..M, stage s receives the activations of m_j from stage s-1 (stage 0 reads
  the samples), applies its layers and sends the result to stage s+1; the last stage computes
  the loss ``L_j`` of m_j (stage 0 sends it the labels);
- backward, j = M..1: the last stage back-propagates ``(n_j / n) L_j``; every stage receives the
  gradient of its output from stage s+1, back-propagates it through its layers, accumulating its
  parameters' gradients, and sends the gradient of its input to stage s-1;
- each stage then adds the gradient of its own weights' penalty and steps its own optimizer and
  schedule on its own parameters.

Since ``sum_j (n_j / n) L_j`` is the minibatch's mean loss, the accumulated gradient is the
one-process gradient of the minibatch, up to float rounding (without batch norm, whose
statistics here are per micro-batch, and without dropout or noise), and so is every update. The
stages wait for each other: a stage idles for about ``(S - 1) / (M + S - 1)`` of an update (the
"bubble", GPipe's formula), reported in the summary.

Processes: the calling process is stage 0; it starts stages 1..S-1
(:class:`~trainlab.processes.Processes`) and runs the ordinary epoch loop
(:func:`~trainlab.training.loop.fit`, through the driver :func:`~trainlab.distributed.mode.drive`;
:class:`PipelineMode` is this mode) with its own stage's optimizer and schedule as the run's.
At the end of each epoch it pulls every stage's weights and buffers into its full copy of the
model, validates (:func:`~trainlab.training.loop.end_epoch`), sends the epoch's metrics to the
stages for their per-epoch schedules and keeps their optimizer and schedule states in
``FitState.extra`` (so ``last.pt`` resumes every stage). At the start of ``fit`` (after a resume
too) it pushes each stage its weights and states. Every wait lasts at most
``distributed.timeout`` seconds (the stages wait for stage 0 while it validates: the timeout must
exceed that); a stage that is lost ends the run with an error naming it (a pipeline cannot go on
without a stage), the run keeping its last checkpoint.

Refused, since a stage sees only its own gradients: Newton (the whole Hessian), SWATS (dot
products over all gradients), ``gradient_clip.max_norm`` (the global norm). irprop+ gets the
global objective (all-reduced). Dropout and noise draw from each stage's generator, re-seeded
every epoch from (seed, epoch, stage). CPU only (gloo point-to-point ``send``/``recv``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from itertools import accumulate

import torch
import torch.distributed as dist
from torch import nn

from .. import build
from ..config import Config
from ..data import Splits
from ..errors import UserError
from ..models.layers import TappedSequential
from ..optim import OPTIMIZERS
from ..processes import Processes, check_port, free_port, threads_per_process
from ..runs.rundir import RunDir
from ..training.batches import batches, epoch_order
from ..training.loop import end_epoch
from ..training.progress import Progress
from ..training.regularization import decay_groups
from ..training.state import FitState, Parts
from ..training.step import Step
from .ddp import epoch_seed
from .launch import init_group
from .mode import Mode, delay_of

# What stage 0 tells the other stages to do next (the first number of every header).
EPOCH, TRAIN, GRADIENTS, PULL, PUSH, SCHEDULE, STOP = range(7)
NORM_LAYERS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)
LOST_WAIT_S = 2.0  # after a failed wait: how long to look for the stage that exited


class PipelineMode(Mode):
    """A pipeline of ``distributed.workers`` stages, this process stage 0
    (:class:`~trainlab.distributed.mode.Mode`). As a callback: at the start of ``fit`` (after a
    resume too) every stage gets its weights and states."""

    def __init__(self, cfg: Config):
        super().__init__(cfg)
        self.pipe: Pipeline | None = None
        self.plan: Plan | None = None

    def check(self, data: Splits) -> None:
        check(self.cfg, data)

    def prepare(self, parts: Parts, data: Splits, progress: Progress) -> None:
        """Cut the model into stages, start the other stages and join their group."""
        self.plan = make_plan(parts.model, self.cfg, data.x_train[:2])
        pipe = Pipeline(self.cfg, data, parts, self.plan)
        self.pipe = pipe.__enter__()

    def on_fit_start(self, state: FitState) -> None:
        if self.pipe.count > 1:
            self.pipe.push(state.parts.model, state.extra.get("stages"))

    def epoch(self, state: FitState, epoch: int, updates: list) -> dict | None:
        return self.pipe.epoch(state, epoch, updates)

    def explain(self, error: RuntimeError) -> BaseException:
        return self.pipe.explain(error, self.run)

    def finish(self) -> None:
        self.pipe.stop()

    def close(self, error: BaseException | None) -> None:
        if self.pipe is not None:
            self.pipe.__exit__(
                type(error) if error is not None else None,
                error,
                error.__traceback__ if error is not None else None,
            )

    def describe(self) -> dict:
        return describe(self.cfg, self.plan)


def check(cfg: Config, splits: Splits) -> None:
    """What a pipeline cannot run, as one-line errors."""
    if splits.x_train.device.type != "cpu":
        raise UserError(
            "distributed.mode = pipeline runs on the CPU (gloo send/recv); use device = 'cpu'"
        )
    name = cfg.optimizer.name
    optimizer = OPTIMIZERS[name]
    if optimizer.reevaluates_loss:
        raise UserError(
            f"optimizer.name = {name!r} with distributed.mode = pipeline: it needs "
            "the Hessian of the whole model, and each stage holds only its layers"
        )
    if optimizer.switches or cfg.train.switch_to_sgd_at:
        raise UserError(
            "SWATS (optimizer.name = 'swats' or train.switch_to_sgd_at) with "
            "distributed.mode = pipeline: its switch uses dot products over every "
            "gradient, and each stage has only its own"
        )
    if cfg.gradient_clip.max_norm > 0:
        raise UserError(
            "gradient_clip.max_norm with distributed.mode = pipeline: the global "
            "norm needs every stage's gradients (use gradient_clip.max_value)"
        )
    if splits.task == "regression":
        raise UserError(
            f"data.name = {cfg.data.name!r} with distributed.mode = "
            "pipeline: the stages pass class labels (integers) to the last one; "
            "a regression task's targets are not (use another mode)"
        )


# ------------------------------------------------------------------------------ the split


class AddChannel(nn.Module):
    """(N, length) -> (N, 1, length): what ``cnn1d`` does before its first layer."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(1)


def model_layers(model: nn.Module, cfg: Config) -> list[tuple[str, nn.Module]]:
    """The layers the model's forward pass applies, in order, each with its state-dict prefix;
    a UserError for a model that is not one sequence of layers."""
    name = cfg.model.name
    if not isinstance(model, TappedSequential):
        raise UserError(
            f"model.name = {name!r} cannot be split into pipeline stages: a recurrent "
            "model applies its layers over the time steps, not one after the other "
            "(use mlp, linear, cnn1d or cnn2d)"
        )
    if getattr(model, "taps", None):
        raise UserError(
            "loss.aux_weight > 0 with distributed.mode = pipeline: the auxiliary "
            "heads read inner layers, which other stages hold (set loss.aux_weight "
            "= 0)"
        )
    first = [("", AddChannel())] if getattr(model, "add_channel", False) else []
    return first + [(f"net.{i}.", layer) for i, layer in enumerate(model.net)]


def has_weights(layer: nn.Module) -> bool:
    """A layer with parameters other than a normalization's (those stay with the layer before)."""
    return any(True for _ in layer.parameters()) and not isinstance(layer, NORM_LAYERS)


def unit_starts(layers: list[tuple[str, nn.Module]]) -> list[int]:
    """Where each unit begins: at every layer with weights (the layers before the first one
    join the first unit)."""
    starts = [i for i, (_, layer) in enumerate(layers) if has_weights(layer)]
    return [0] + starts[1:] if starts else []


def balance(sizes: list[int], parts: int) -> list[int]:
    """The index where each of ``parts`` consecutive, non-empty groups of ``sizes`` starts, so
    that the largest group's sum is as small as possible (linear partition, dynamic
    programming: best[k][i] = min over j of max(best[k-1][j], sum of sizes[j:i]))."""
    n, prefix = len(sizes), [0, *accumulate(sizes)]
    best = [[float("inf")] * (n + 1) for _ in range(parts + 1)]
    cut = [[0] * (n + 1) for _ in range(parts + 1)]
    best[0][0] = 0
    for k in range(1, parts + 1):
        for i in range(k, n + 1):
            for j in range(k - 1, i):
                cost = max(best[k - 1][j], prefix[i] - prefix[j])
                if cost < best[k][i]:
                    best[k][i], cut[k][i] = cost, j
    starts, i = [], n
    for k in range(parts, 0, -1):
        i = cut[k][i]
        starts.append(i)
    return starts[::-1]


@dataclass
class Plan:
    """Where the model is cut: each stage's layers ``layers[start:end]``, the shape of one
    sample entering each stage, and each stage's parameter count."""

    bounds: list[tuple[int, int]]
    shapes: list[tuple[int, ...]]
    parameters: list[int]
    names: list[list[str]]  # each stage's layers, as state-dict prefixes


def make_plan(model: nn.Module, cfg: Config, sample: torch.Tensor) -> Plan:
    """Cut ``model`` into ``distributed.workers`` stages balancing their parameter counts;
    ``sample``: a few training samples, to learn the activations' shapes."""
    layers, stages = model_layers(model, cfg), cfg.distributed.workers
    starts = unit_starts(layers)
    if len(starts) < stages:
        kinds = ", ".join(type(layer).__name__ for _, layer in layers if has_weights(layer))
        raise UserError(
            f"distributed.workers = {stages} pipeline stages, but model.name = "
            f"{cfg.model.name!r} has {len(starts)} layers with weights "
            f"({kinds}); each stage needs one (use at most {len(starts)} stages, or "
            "a deeper model)"
        )
    ends = starts[1:] + [len(layers)]
    sizes = [
        sum(p.numel() for _, m in layers[a:b] for p in m.parameters()) for a, b in zip(starts, ends)
    ]
    cuts = balance(sizes, stages)
    bounds = [
        (starts[c], starts[d] if d < len(starts) else len(layers))
        for c, d in zip(cuts, cuts[1:] + [len(starts)])
    ]
    shapes, x = [], sample
    with torch.no_grad():
        training = model.training
        model.eval()
        for a, b in bounds:
            shapes.append(tuple(x.shape[1:]))
            for _, layer in layers[a:b]:
                x = layer(x)
        model.train(training)
    parameters = [sum(p.numel() for _, m in layers[a:b] for p in m.parameters()) for a, b in bounds]
    names = [[prefix.rstrip(".") for prefix, _ in layers[a:b] if prefix] for a, b in bounds]
    return Plan(bounds, shapes, parameters, names)


def micro_sizes(n: int, micro: int, min_size: int) -> list[int]:
    """Near-equal micro-batch sizes for a minibatch of ``n`` (at most ``micro`` of them, none
    smaller than ``min_size``: batch norm needs 2 samples)."""
    count = max(1, min(micro, n // min_size))
    q, r = divmod(n, count)
    return [q + (i < r) for i in range(count)]


# ------------------------------------------------------------------------------ one stage


class Link:
    """Stage ``index`` of ``count``'s messages: headers broadcast by stage 0, tensors between
    neighbours (gloo send/recv; every wait ends after the group's timeout)."""

    def __init__(self, index: int, count: int, micro: int, dtype: torch.dtype):
        self.index, self.count, self.dtype = index, count, dtype
        self.header = torch.zeros(3 + micro, dtype=torch.int64)

    def command(self, kind: int, arg: int = 0, sizes: list[int] = ()) -> None:
        """Stage 0: what every stage does next."""
        self.header.zero_()
        self.header[:3] = torch.tensor([kind, arg, len(sizes)])
        self.header[3 : 3 + len(sizes)] = torch.tensor(sizes, dtype=torch.int64)
        dist.broadcast(self.header, src=0)

    def next_command(self) -> tuple[int, int, list[int]]:
        """Stages 1..S-1: wait for stage 0's next command."""
        dist.broadcast(self.header, src=0)
        kind, arg, count = self.header[:3].tolist()
        return kind, arg, self.header[3 : 3 + count].tolist()

    def send(self, tensor: torch.Tensor, dst: int) -> None:
        dist.send(tensor.contiguous(), dst)

    def recv(self, shape: tuple[int, ...], src: int, dtype: torch.dtype | None = None):
        tensor = torch.empty(shape, dtype=dtype or self.dtype)
        dist.recv(tensor, src)
        return tensor


class Stage:
    """One stage: its layers, and its own optimizer, schedule, penalties and (stage 0)
    augmentation, built as one-process training builds them for the whole model."""

    def __init__(
        self,
        cfg: Config,
        layers: list[tuple[str, nn.Module]],
        index: int,
        plan: Plan,
        input_shape: tuple[int, ...],
        task: str,
        updates: int,
    ):
        self.layers, self.index = layers, index
        self.first, self.last = index == 0, index == len(plan.bounds) - 1
        self.in_shape = plan.shapes[index]
        self.module = nn.Sequential(*[layer for _, layer in layers])
        self.optimizer = build.optimizer(
            cfg, decay_groups(self.module, cfg.regularization.exclude_bias_and_norm), updates
        )
        self.schedule = build.schedule(cfg, self.optimizer, updates)
        self.loss_fn = build.loss(cfg, task)
        self.step = Step(self.module, self.loss_fn, self.optimizer, schedule=self.schedule)
        self.regularization = build.regularization(cfg, self.module)
        self.penalized = self.regularization.has_penalty and bool(self.regularization.params)
        self.augmentation = build.augmentation(cfg, input_shape) if self.first else None
        self.seed = cfg.seed
        self.delay = delay_of(cfg, index)
        self.totals = torch.zeros(3, dtype=torch.float64)  # last stage: loss sum, correct, n

    def begin_epoch(self, epoch: int) -> None:
        torch.manual_seed(epoch_seed(self.seed, epoch, self.index))
        self.module.train()
        self.totals.zero_()

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Stage 0: the minibatch as one-process training's Step feeds it to the model."""
        if self.augmentation is not None and self.augmentation.active:
            x = self.augmentation(x)
        return self.regularization.inputs(x)

    def minibatch(
        self,
        link: Link,
        sizes: list[int],
        x: torch.Tensor | None = None,
        y: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Forward and backward of every micro-batch (GPipe), gradients accumulated in this
        stage's ``.grad``; returns this stage's part of the objective (the last stage's mean
        loss; every stage's penalty)."""
        if self.delay:
            time.sleep(self.delay)  # distributed.slow_worker: the whole pipeline waits
        self.optimizer.zero_grad(set_to_none=True)
        clean = self.regularization.perturb_weights()
        saved = self.forward(link, sizes, x)
        objective = self.backward(link, saved, sizes, y)
        if self.penalized:
            penalty = self.regularization.penalty()
            penalty.backward()
            objective = objective + penalty.detach()
        self.regularization.restore_weights(clean)
        return objective

    def forward(self, link: Link, sizes: list[int], x: torch.Tensor | None) -> list[tuple]:
        pieces = x.split(sizes) if self.first else None
        saved = []
        for j, n in enumerate(sizes):
            if self.first:
                inp = pieces[j]
            else:
                inp = link.recv((n, *self.in_shape), self.index - 1).requires_grad_()
            out = self.module(inp)
            if not self.last:
                link.send(out.detach(), self.index + 1)
            saved.append((inp, out))
        return saved

    def backward(
        self, link: Link, saved: list[tuple], sizes: list[int], y: torch.Tensor | None
    ) -> torch.Tensor:
        n, mean_loss = sum(sizes), torch.zeros(())
        labels = y.split(sizes) if self.last else None
        for j in reversed(range(len(saved))):
            inp, out = saved[j]
            if self.last:
                loss = self.loss_fn(out, labels[j])
                (loss * (len(out) / n)).backward()
                mean_loss = mean_loss + loss.detach() * (len(out) / n)
                self.totals += torch.stack(
                    [
                        loss.detach().double() * len(out),
                        (out.argmax(1) == labels[j]).sum().double(),
                        torch.tensor(float(len(out)), dtype=torch.float64),
                    ]
                )
            else:
                out.backward(link.recv(out.shape, self.index + 1))
            if not self.first:
                link.send(inp.grad, self.index - 1)
        return mean_loss

    def apply(self, objective: torch.Tensor) -> None:
        """This stage's optimizer step; irprop+ gets the whole objective (summed over stages)."""
        if self.step.needs_loss:
            dist.all_reduce(objective)
            self.step.apply_gradients(objective)
        else:
            self.step.apply_gradients()

    def named(self, what: str) -> dict[str, torch.Tensor]:
        """This stage's ``state`` (weights and buffers) or ``grads``, under the full model's
        state-dict names."""
        out = {}
        for prefix, layer in self.layers:
            if what == "state":
                out.update({prefix + k: v for k, v in layer.state_dict().items()})
            else:
                out.update(
                    {prefix + k: p.grad for k, p in layer.named_parameters() if p.grad is not None}
                )
        return out

    def load(self, payload: dict) -> None:
        """Weights, buffers and (when given) optimizer and schedule states from stage 0."""
        state = payload["model"]
        for prefix, layer in self.layers:
            if prefix:
                layer.load_state_dict(
                    {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
                )
        if payload.get("optimizer") is not None:
            self.optimizer.load_state_dict(payload["optimizer"])
            self.schedule.load_state_dict(payload["schedule"])

    def states(self) -> dict:
        return {"optimizer": self.optimizer.state_dict(), "schedule": self.schedule.state_dict()}


# ------------------------------------------------------------------------------ stages 1..S-1


def stage_main(
    cfg: Config,
    input_shape: tuple[int, ...],
    num_classes: int,
    task: str,
    plan: Plan,
    index: int,
    port: int,
    updates: int,
    dtype: torch.dtype,
) -> None:
    """A stage process: join the group, build the model as stage 0 did, keep this stage's
    layers, then do what stage 0 says until it says stop."""
    d = cfg.distributed
    init_group(index, len(plan.bounds), d.address, port, d.timeout)
    try:
        torch.manual_seed(cfg.seed)
        model = build.model(cfg, input_shape, num_classes)
        a, b = plan.bounds[index]
        stage = Stage(cfg, model_layers(model, cfg)[a:b], index, plan, input_shape, task, updates)
        del model
        serve(stage, Link(index, len(plan.bounds), d.micro_batches, dtype))
    finally:
        dist.destroy_process_group()


def serve(stage: Stage, link: Link) -> None:
    """The command loop of stages 1..S-1."""
    while True:
        kind, arg, sizes = link.next_command()
        if kind == STOP:
            return
        if kind == EPOCH:
            stage.begin_epoch(arg)
        elif kind in (TRAIN, GRADIENTS):
            y = link.recv((sum(sizes),), 0, torch.int64) if stage.last else None
            objective = stage.minibatch(link, sizes, y=y)
            if kind == TRAIN:
                stage.apply(objective)
            else:
                dist.send_object_list([stage.named("grads")], dst=0)
        elif kind == PULL:
            dist.send_object_list([{"model": stage.named("state"), "totals": stage.totals}], dst=0)
        elif kind == PUSH:
            payload = [None]
            dist.recv_object_list(payload, src=0)
            stage.load(payload[0])
        elif kind == SCHEDULE:
            metrics = [None]
            dist.broadcast_object_list(metrics, src=0)
            stage.schedule.after_epoch(metrics[0])
            dist.send_object_list([stage.states()], dst=0)


# ------------------------------------------------------------------------------ stage 0


class Pipeline:
    """Stage 0 (this process) and the other stages' processes, for a ``with`` block: started
    and joined into one group on entry; stopped, joined and ended on exit."""

    def __init__(self, cfg: Config, data: Splits, parts: Parts, plan: Plan):
        self.cfg, self.data, self.parts, self.plan = cfg, data, parts, plan
        self.count = len(plan.bounds)
        a, b = plan.bounds[0]
        layers = model_layers(parts.model, cfg)[a:b]  # the full model's own layer objects
        self.stage = Stage(cfg, layers, 0, plan, data.input_shape, data.task, parts.updates)
        # the run's optimizer and schedule are stage 0's (checkpointed as one process's are)
        parts.optimizer, parts.schedule, parts.step = (
            self.stage.optimizer,
            self.stage.schedule,
            self.stage.step,
        )
        self.link = Link(0, self.count, cfg.distributed.micro_batches, data.x_train.dtype)
        self.procs = Processes()
        self.stopped = False

    def __enter__(self) -> Pipeline:
        d = self.cfg.distributed
        if d.port:
            check_port(d.address, d.port)
        port = d.port or free_port(d.address)
        threads = threads_per_process(self.count)
        for index in range(1, self.count):
            self.procs.start(
                stage_main,
                (
                    self.cfg,
                    self.data.input_shape,
                    self.data.num_classes,
                    self.data.task,
                    self.plan,
                    index,
                    port,
                    self.parts.updates,
                    self.data.x_train.dtype,
                ),
                threads=threads,
            )
        self.threads = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            init_group(0, self.count, d.address, port, d.timeout)
        except BaseException:
            self.procs.__exit__(None, None, None)
            torch.set_num_threads(self.threads)
            raise
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is not None:  # the pipeline is broken: its stages have nothing left to do
            for child in self.procs.children:
                if child.is_alive():
                    child.terminate()
        try:
            dist.destroy_process_group()
        finally:
            torch.set_num_threads(self.threads)
            self.procs.__exit__(*exc)

    def stop(self) -> None:
        """The normal end: every stage leaves its loop and exits."""
        self.link.command(STOP)
        self.procs.join_all(self.cfg.distributed.timeout)

    def explain(self, error: RuntimeError, run: RunDir) -> Exception:
        """The error to report for a failed wait: a lost stage, a stage's own error, or the
        wait's."""
        deadline = time.monotonic() + LOST_WAIT_S
        while not self.procs.lost() and time.monotonic() < deadline:
            time.sleep(0.05)
        lost = self.procs.lost()
        if lost:
            codes = ", ".join(
                f"stage {i + 1} (exit code {self.procs.children[i].exitcode})" for i in lost
            )
            return UserError(
                f"pipeline {codes} lost; a pipeline cannot go on without every "
                f"stage (continue with trainlab train --resume {run.path})"
            )
        try:
            self.procs.raise_errors()
        except (UserError, RuntimeError) as e:
            return e
        return error

    def push(self, model: nn.Module, states: list[dict] | None) -> None:
        """Every stage's weights and buffers from ``model``; its optimizer and schedule states
        from ``states`` (a checkpoint's), if given."""
        self.link.command(PUSH)
        full = model.state_dict()
        for index in range(1, self.count):
            names = tuple(f"{name}." for name in self.plan.names[index])
            payload = {
                "model": {k: v for k, v in full.items() if k.startswith(names)},
                **(states[index - 1] if states else {}),
            }
            dist.send_object_list([payload], dst=index)

    def minibatch(self, x: torch.Tensor, y: torch.Tensor, kind: int = TRAIN) -> None:
        """One minibatch through the pipeline; TRAIN steps every stage, GRADIENTS only leaves
        the gradients."""
        sizes = micro_sizes(len(x), self.cfg.distributed.micro_batches, self.parts.min_size)
        self.link.command(kind, sizes=sizes)
        if self.count > 1:
            self.link.send(y.long(), self.count - 1)
        objective = self.stage.minibatch(
            self.link, sizes, self.stage.inputs(x), y if self.count == 1 else None
        )
        if kind == TRAIN:
            self.stage.apply(objective)

    def gradients(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """The gradient of the minibatch (x, y) for every parameter, by full-model name."""
        self.minibatch(x, y, GRADIENTS)
        grads = self.stage.named("grads")
        for index in range(1, self.count):
            received = [None]
            dist.recv_object_list(received, src=index)
            grads.update(received[0])
        return grads

    def pull(self) -> tuple[float, float]:
        """Every stage's weights and buffers into the full model; the epoch's train loss and
        accuracy (the last stage's sums)."""
        totals = self.stage.totals
        if self.count > 1:
            self.link.command(PULL)
            for index in range(1, self.count):
                received = [None]
                dist.recv_object_list(received, src=index)
                self.parts.model.load_state_dict(received[0]["model"], strict=False)
                totals = received[0]["totals"]
        return (totals[0] / totals[2]).item(), (totals[1] / totals[2]).item()

    def after_epoch(self, metrics: dict) -> list[dict]:
        """The other stages' per-epoch schedules; returns their optimizer and schedule
        states."""
        self.link.command(SCHEDULE)
        dist.broadcast_object_list([metrics], src=0)
        states = []
        for index in range(1, self.count):
            received = [None]
            dist.recv_object_list(received, src=index)
            states.append(received[0])
        return states

    def epoch(self, state: FitState, epoch: int, updates: list) -> dict | None:
        """One epoch (``fit``'s epoch function): the minibatches of one-process training
        through the pipeline, then the weights gathered, validation and schedules."""
        p, data = state.parts, state.data
        lr = p.optimizer.param_groups[0]["lr"]
        self.link.command(EPOCH, epoch)
        self.stage.begin_epoch(epoch)
        xs, ys = epoch_order(data.x_train, data.y_train, state.options.shuffle, state.shuffle)
        for xb, yb in batches(xs, ys, p.batch_size, p.min_size):
            self.minibatch(xb, yb)
            for update in updates:
                update()
        metrics = end_epoch(state, epoch, *self.pull(), lr)
        if metrics is not None and self.count > 1:
            state.extra["stages"] = self.after_epoch(metrics)
        return metrics


def describe(cfg: Config, plan: Plan) -> dict:
    """What the summary says of the pipeline."""
    stages, micro = len(plan.bounds), cfg.distributed.micro_batches
    return {
        "mode": "pipeline",
        "stages": stages,
        "micro_batches": micro,
        "parameters_per_stage": plan.parameters,
        "layers_per_stage": plan.names,
        "bubble_fraction": (stages - 1) / (micro + stages - 1),
    }
