"""Claims of lectures 000, 002 and 003 about regularization and heuristics: L1/L2, dropout, early stopping, gradient clipping, augmentation, input normalization, label smoothing, confidence penalty, auxiliary classifiers, batch- and layer-norm details."""

from __future__ import annotations
