"""Where each tensor of the model goes in the parameter server's messages, and which server shard
owns which parameters ("equally partition variables across parameter servers", lecture 003
``003_4f959921065895eb.txt``, slide 54).

The parameters, in the model's order, are cut into ``servers`` contiguous groups of about equal
size (in numbers, not tensors). Server 0 (the coordinator) also carries the loss numbers, the
buffers (batch norm's running statistics, which travel with the weights) and the batch's
sample indices.
"""

from __future__ import annotations

import torch
from torch import nn

from ..config import Config, replace
from ..errors import UserError
from . import MODES, messages as m

NUMBERS = 3  # objective, loss sum, correct count: what a gradient's batch scored


def partition(sizes: list[int], parts: int) -> list[list[int]]:
    """Indices of ``sizes`` cut into ``parts`` contiguous, non-empty groups: group j ends at the
    first tensor where the running total reaches (j+1)/parts of the whole."""
    if parts > len(sizes):
        raise UserError(
            f"distributed.servers = {parts}: the model has only {len(sizes)} "
            "parameter tensors to partition (use fewer servers)"
        )
    cumulative, running = [], 0
    for size in sizes:
        running += size
        cumulative.append(running)
    edges = [0]
    for j in range(1, parts):
        target = running * j / parts
        k = next((i + 1 for i, c in enumerate(cumulative) if c >= target), len(sizes))
        k = min(max(k, edges[-1] + 1), len(sizes) - (parts - j))  # non-empty, room for the rest
        edges.append(k)
    edges.append(len(sizes))
    return [list(range(edges[j], edges[j + 1])) for j in range(parts)]


def server_config(cfg: Config) -> Config:
    """The config the processes build their parts from: in a synchronous mode (sync), one
    update consumes ``workers + backup_workers`` batches, so the per-update schedule counts
    those updates."""
    d = cfg.distributed
    if not MODES[d.mode].synchronous:
        return cfg
    b = cfg.train.batch_size
    if b == "full":
        raise UserError(
            f'train.batch_size = "full" with distributed.mode = {d.mode}: each '
            "worker needs a minibatch of its own (give an integer batch size)"
        )
    return replace(cfg, **{"train.batch_size": b * (d.workers + d.backup_workers)})


def batch_cap(cfg: Config, n: int) -> int:
    """The most samples one worker's batch can hold (a last batch too small joins the one
    before it)."""
    b = cfg.train.batch_size
    return n if b == "full" else min(n, 2 * b)


class Layout:
    """The model's tensors as message slices: server ``j`` owns ``self.owned[j]``."""

    def __init__(self, model: nn.Module, servers: int, batch_cap: int, workers: int):
        self.params = list(model.parameters())
        self.buffers = list(model.buffers())
        self.owned = [
            [self.params[i] for i in group]
            for group in partition([p.numel() for p in self.params], servers)
        ]
        self.batch_cap, self.workers, self.servers = batch_cap, workers, servers

    def gradient_size(self, j: int) -> int:
        extra = NUMBERS + m.size_of(self.buffers) if j == 0 else 0
        return m.HEADER + extra + m.size_of(self.owned[j])

    def reply_size(self, j: int) -> int:
        extra = m.size_of(self.buffers) + self.batch_cap if j == 0 else 0
        return m.HEADER + m.size_of(self.owned[j]) + extra

    def control_size(self) -> int:
        return m.HEADER + 3 * self.workers + 1

    # worker -> server j
    def gradient(self, j: int, head: torch.Tensor, numbers: list[float]) -> torch.Tensor:
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.owned[j]]
        parts = [head]
        if j == 0:
            parts += [torch.tensor(numbers, dtype=torch.float32), m.flat(self.buffers)]
        return torch.cat(parts + [m.flat(grads)])

    def read_gradient(
        self, j: int, message: torch.Tensor
    ) -> tuple[list[float], torch.Tensor, torch.Tensor]:
        """(numbers, buffer values, gradient values) of a gradient message to server ``j``."""
        at = m.HEADER
        if j != 0:
            return [], torch.zeros(0), message[at:]
        numbers = message[at : at + NUMBERS].tolist()
        at += NUMBERS
        nb = m.size_of(self.buffers)
        return numbers, message[at : at + nb], message[at + nb :]

    # server j -> worker
    def reply(
        self, j: int, head: torch.Tensor, indices: torch.Tensor | None = None
    ) -> torch.Tensor:
        parts = [head, m.flat(self.owned[j])]
        if j == 0:
            empty = torch.zeros(0, dtype=torch.int64)
            parts += [
                m.flat(self.buffers),
                m.ints(indices if indices is not None else empty, self.batch_cap),
            ]
        return torch.cat(parts)

    def load_reply(self, j: int, message: torch.Tensor) -> torch.Tensor | None:
        """Load the weights (and, from server 0, the buffers) of a reply into the model;
        returns the batch's sample indices (server 0) or None."""
        at, n = m.HEADER, m.size_of(self.owned[j])
        m.unflat(message[at : at + n], self.owned[j])
        if j != 0:
            return None
        at += n
        nb = m.size_of(self.buffers)
        m.unflat(message[at : at + nb], self.buffers)
        count = m.read_header(message)["count"]
        return m.read_ints(message[at + nb :], count)
