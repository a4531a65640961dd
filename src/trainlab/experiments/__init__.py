"""Experiments built on training runs: the grid runner (:mod:`.grid`), ``compare``, ``search``,
``lr-find``, ``trajectories`` and per-layer ``diagnostics``."""
