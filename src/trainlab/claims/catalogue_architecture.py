"""Claims of lectures 000, 001, 003 and 004 about architecture and initialization scale: width, depth, convolutional and locally connected layers, activation growth, He/Glorot, pretraining, hand-derived gradients."""

from __future__ import annotations
