"""trainlab: train neural networks with the techniques of the lectures, and check their claims.

The library API mirrors the CLI: :func:`train`, :func:`resume`, :func:`evaluate`,
:func:`load_model`; the pieces work in plain PyTorch code too:

- ``trainlab.config``: every key, its default and meaning; reading and validating configs;
- ``trainlab.data``, ``trainlab.models``, ``trainlab.optim``: data sources, architectures and
  initializations, optimizers and gradient transforms, each family a registry of names;
- ``trainlab.training``: one step (``training.step.Step``), the epoch loop (``training.loop.fit``)
  and its callbacks, losses, regularization, augmentation, schedules, early stopping;
- ``trainlab.runs``: run folders, checkpoints, atomic writes;
- ``trainlab.experiments``: the grid runner, compare, search, lr-find, trajectories,
  diagnostics;
- ``trainlab.analysis``: statistics, plots, report pages.
"""

from .api import evaluate, fit, load_model, resume, train
from .config import resolve as resolve_config
from .errors import UserError

__version__ = "0.1.0"
__all__ = ["UserError", "evaluate", "fit", "load_model", "resolve_config", "resume", "train"]
