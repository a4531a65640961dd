"""Claims of lectures 000, 002 and 003 about stochastic, online and minibatch gradient descent: sample order, step-size schedules, convergence rates, batch size and learning rate."""

from __future__ import annotations
