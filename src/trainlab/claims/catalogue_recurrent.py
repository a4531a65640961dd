"""Claims of lecture 003 (slides 80, 95-100) about recurrent nets: dropout for RNNs, recurrent batch norm, layer norm, identity initialization."""

from __future__ import annotations
