"""Claims of lecture 003 about distributed SGD: Hogwild, asynchronous SGD and stale gradients, adding workers slowly, synchronous SGD with backup workers."""

from __future__ import annotations
