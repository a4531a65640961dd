"""The parameter server's other processes: the workers, and the server shards after the first
(:mod:`trainlab.distributed.server` describes the protocol).

A worker loops: receive the weights (with their version) and a batch's sample indices from
server 0, pull the other shards' weights, compute the batch's gradient with the one-process
:class:`~trainlab.training.step.Step`, and push each shard its part, tagged with the version it
was computed at. A shard j > 0 keeps its part of the parameters and of the optimizer; it applies
the gradients server 0 tells it to apply (so that every shard takes the same decisions), and
answers a worker's pull once it has reached the version the worker asks for.
"""

from __future__ import annotations

import queue
import time

import torch

from .. import build
from ..config import Config
from . import messages as m
from .launch import init_group
from .layout import Layout, batch_cap, server_config
from .mode import delay_of


def setup(cfg: Config, port: int, rank: int, world: int):
    """What every parameter-server process but server 0 does first: join the group, load the
    data, build the run's parts (sync: with the batch of a whole update) and the message
    layout (server 0 does the same through the driver: :class:`~.server.Coordinator`)."""
    d = cfg.distributed
    init_group(rank, world, d.address, port, d.timeout)
    splits = build.load_data(cfg, "cpu")
    parts = build.parts(server_config(cfg), splits)
    layout = Layout(parts.model, d.servers, batch_cap(cfg, len(splits.x_train)), world - d.servers)
    return splits, parts, layout


def work(cfg: Config, port: int, rank: int, world: int) -> None:
    """A worker: gradients of the batches server 0 sends, until it says stop."""
    splits, parts, layout = setup(cfg, port, rank, world)
    servers = cfg.distributed.servers
    index = rank - servers
    if index:  # its own dropout and augmentation draws; worker 0 draws as one process would
        torch.manual_seed(cfg.seed * 1_000_003 + index)
    delay = delay_of(cfg, index)
    parts.model.train()
    while True:
        reply = m.receive(layout.reply_size(0), 0, m.REPLY_TAG)
        head = m.read_header(reply)
        if head["kind"] == m.STOP:
            return
        indices = layout.load_reply(0, reply)
        for j in range(1, servers):
            _pull(layout, j, head["version"], rank)
        if delay:
            time.sleep(delay)
        x, y = splits.x_train[indices], splits.y_train[indices]
        logits = parts.step.compute_gradients(x, y)
        with torch.no_grad():
            loss_sum = parts.loss_fn(logits, y).item() * len(y)
            correct = (logits.argmax(1) == y).sum().item()
        numbers = [parts.step.loss.item(), loss_sum, correct]
        for j in range(servers):
            # tagged with server 0's version on every shard: server 0's decisions name it
            h = m.header(m.GRADIENT, rank, head["version"], head["batch"], len(y), head["epoch"])
            m.send(layout.gradient(j, h, numbers), j, m.GRADIENT_TAG)


def _pull(layout: Layout, j: int, version: int, rank: int) -> None:
    """Shard j's weights at ``version`` or later (async: the shard may be ahead) into the
    model."""
    ask = torch.cat(
        [m.header(m.PULL, rank, version), torch.zeros(layout.control_size() - m.HEADER)]
    )
    m.send(ask, j, m.CONTROL_TAG)
    reply = m.receive(layout.reply_size(j), j, m.REPLY_TAG)
    layout.load_reply(j, reply)


class Shard:
    """Server j > 0: its parameters' part of every update, as server 0 decides."""

    def __init__(self, cfg: Config, port: int, rank: int, world: int):
        _, self.parts, self.layout = setup(cfg, port, rank, world)
        self.j, self.version = rank, 0
        self.owned = set(map(id, self.layout.owned[rank]))
        self.gradients: dict[int, tuple[int, torch.Tensor]] = {}  # worker -> (version, grad)
        self.applies: list[tuple[list, float]] = []  # decisions waiting for their gradients
        self.pulls: list[tuple[int, int]] = []  # (worker, version) waiting for that version
        self.inbox: queue.Queue = queue.Queue()
        m.Receiver(self.layout.gradient_size(rank), m.GRADIENT_TAG, self.inbox, self.layout.workers)
        m.Receiver(self.layout.control_size(), m.CONTROL_TAG, self.inbox, self.layout.workers)
        self.report_at: int | None = None  # server 0 asked for the state at this version
        self.timeout = cfg.distributed.timeout

    def run(self) -> None:
        while True:
            sender, message = self.inbox.get(timeout=self.timeout)
            if sender is None:
                raise RuntimeError(f"server shard {self.j}: {message}")
            h = m.read_header(message)
            if h["kind"] == m.GRADIENT:
                self.gradients[sender] = (h["version"], message[m.HEADER :].clone())
            elif h["kind"] == m.PULL:
                self.pulls.append((sender, h["version"]))
            elif h["kind"] == m.APPLY:
                self.applies.append((self._entries(message, h["count"]), message[-1].item()))
            elif h["kind"] == m.REPORT:  # once every update up to server 0's is applied
                self.report_at = h["version"]
            elif h["kind"] == m.RATE:  # a per-epoch schedule moved server 0's rate
                for g in self.parts.optimizer.param_groups:
                    g["lr"] = message[-1].item()
            elif h["kind"] == m.LOAD:
                self._load()
            elif h["kind"] == m.STOP:
                return
            self._progress()

    @staticmethod
    def _entries(message: torch.Tensor, count: int) -> list[tuple[int, int, float]]:
        body = message[m.HEADER :]
        return [
            (int(body[3 * i]), int(body[3 * i + 1]), body[3 * i + 2].item()) for i in range(count)
        ]

    def _progress(self) -> None:
        """Apply the decisions whose gradients are here, in order; answer the pulls that can
        be answered."""
        while self.applies:
            entries, scale = self.applies[0]
            if not all(self.gradients.get(r, (None,))[0] == v for r, v, _ in entries):
                break
            self.applies.pop(0)
            grad = sum(w * self.gradients.pop(r)[1] for r, _, w in entries)
            for p in self.parts.model.parameters():
                p.grad = None if id(p) not in self.owned else torch.empty_like(p)
            m.unflat(grad, [p.grad for p in self.layout.owned[self.j]])
            self.parts.step.apply_gradients(torch.tensor(0.0), lr_scale=scale or 1.0)
            self.version += 1
        if self.report_at is not None and self.version >= self.report_at:
            self.report_at = None
            self._report()
        waiting = []
        for rank, version in self.pulls:
            if self.version >= version:
                head = m.header(m.WEIGHTS, self.j, self.version)
                m.send(self.layout.reply(self.j, head), rank, m.REPLY_TAG)
            else:
                waiting.append((rank, version))
        self.pulls = waiting

    def _report(self) -> None:
        import torch.distributed as dist

        state = {
            "params": m.flat(self.layout.owned[self.j]),
            "version": self.version,
            "optimizer": self.parts.optimizer.state_dict(),
            "schedule": self.parts.schedule.state_dict(),
        }
        dist.send_object_list([state], dst=0)

    def _load(self) -> None:
        import torch.distributed as dist

        box = [None]
        dist.recv_object_list(box, src=0)
        saved = box[0]
        m.unflat(saved["params"], self.layout.owned[self.j])
        self.parts.optimizer.load_state_dict(saved["optimizer"])
        self.parts.schedule.load_state_dict(saved["schedule"])
        self.version = saved["version"]


def shard(cfg: Config, port: int, rank: int, world: int) -> None:
    Shard(cfg, port, rank, world).run()
