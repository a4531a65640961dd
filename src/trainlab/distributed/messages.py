"""The parameter server's messages: flat float32 tensors sent point to point over gloo.

Every message starts with a header of 8 int32 fields (stored bit for bit in float32 slots, so a
version or an index is exact whatever its size): kind, sender, version, batch, count, epoch.
After it, depending on the kind, come numbers, gradients, weights, buffers and sample indices,
each as a flat slice. Messages on one tag always have one size, which gloo needs, so shorter
contents are padded.

Receiving "from whoever sends first" needs a blocking wait: gloo cannot poll a receive, and a
receive that times out breaks the connection. :class:`Receiver` therefore waits in a thread and
hands each message to a queue, which the main loop reads with short timeouts between its checks
for lost workers. The thread's own wait is bounded by the process group's timeout.
"""

from __future__ import annotations

import queue
import threading

import torch
import torch.distributed as dist

HEADER = 8
GRADIENT_TAG, CONTROL_TAG, REPLY_TAG = 7, 8, 9  # tag 0 is left to send/recv_object_list

# kinds
WORK, STOP, GRADIENT, PULL, WEIGHTS, APPLY, REPORT, LOAD, RATE = range(1, 10)


def header(
    kind: int, sender: int = 0, version: int = 0, batch: int = 0, count: int = 0, epoch: int = 0
) -> torch.Tensor:
    """The header as float32 slots holding int32 bits."""
    return torch.tensor([kind, sender, version, batch, count, epoch, 0, 0], dtype=torch.int32).view(
        torch.float32
    )


def read_header(message: torch.Tensor) -> dict:
    kind, sender, version, batch, count, epoch, _, _ = message[:HEADER].view(torch.int32).tolist()
    return {
        "kind": kind,
        "sender": sender,
        "version": version,
        "batch": batch,
        "count": count,
        "epoch": epoch,
    }


def ints(values: torch.Tensor, size: int) -> torch.Tensor:
    """Integers (< 2^31) as float32 slots holding int32 bits, padded with zeros to ``size``."""
    out = torch.zeros(size, dtype=torch.int32)
    out[: len(values)] = values.to(torch.int32)
    return out.view(torch.float32)


def read_ints(slots: torch.Tensor, count: int) -> torch.Tensor:
    return slots[:count].view(torch.int32).to(torch.int64)


def flat(tensors: list[torch.Tensor]) -> torch.Tensor:
    """The tensors' values, concatenated, as float32 (an empty tensor for none)."""
    if not tensors:
        return torch.zeros(0)
    return torch.cat([t.detach().reshape(-1).float() for t in tensors])


def unflat(values: torch.Tensor, into: list[torch.Tensor]) -> None:
    """Copy consecutive slices of ``values`` into ``into`` (shapes and dtypes kept)."""
    offset = 0
    with torch.no_grad():
        for t in into:
            n = t.numel()
            t.copy_(values[offset : offset + n].view_as(t).to(t.dtype))
            offset += n


def size_of(tensors: list[torch.Tensor]) -> int:
    return sum(t.numel() for t in tensors)


def send(message: torch.Tensor, dst: int, tag: int) -> None:
    dist.send(message, dst, tag=tag)


def receive(size: int, src: int, tag: int) -> torch.Tensor:
    """A message of ``size`` floats from ``src`` (blocking, up to the group's timeout)."""
    message = torch.empty(size)
    dist.recv(message, src, tag=tag)
    return message


class Receiver:
    """Messages of one ``size`` on ``tag`` from any sender, received by a daemon thread into
    :attr:`inbox` as ``(sender, message)``. A sender that dies part-way through a message
    breaks only that receive: the thread receives again (the process that started the workers
    names the lost one). A timed-out wait, or ``peers`` failures in a row (the group is gone),
    puts ``(None, error)`` and ends the thread."""

    def __init__(self, size: int, tag: int, inbox: queue.Queue, peers: int = 1):
        self.size, self.tag, self.inbox, self.peers = size, tag, inbox, peers
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        failures = 0
        while True:
            message = torch.empty(self.size)
            try:
                work = dist.irecv(message, src=None, tag=self.tag)
                work.wait()
                sender = work._source_rank()
            except RuntimeError as e:
                failures += 1
                if "timed out" in str(e).lower() or failures > self.peers:
                    self.inbox.put((None, e))
                    return
                continue
            failures = 0
            self.inbox.put((sender, message))
