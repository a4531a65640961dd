"""Claims of lectures 000 and 002 about divergences: cross-entropy against squared error with sigmoid and softmax outputs."""

from __future__ import annotations
