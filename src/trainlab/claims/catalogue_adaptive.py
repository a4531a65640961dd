"""Claims of lectures 000, 002, 003 and 004 about Rprop, QuickProp, Nesterov, Adagrad, RMSProp, AdaDelta, Adam, Adam-then-SGD and gradient noise."""

from __future__ import annotations
