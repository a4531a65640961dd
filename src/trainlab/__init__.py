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

import importlib
import importlib.abc
import importlib.util
import sys

from .api import evaluate, fit, load_model, resume, train
from .config import resolve as resolve_config
from .errors import UserError

__version__ = "0.1.0"
__all__ = ["UserError", "evaluate", "fit", "load_model", "resolve_config", "resume", "train"]

# Where modules lived before the packages existed: ``import trainlab.loop`` and
# ``trainlab.compare`` keep working, imported on first use (the experiments import SciPy).
_MOVED = {
    **{name: f"training.{name}" for name in ("loop", "batches", "schedules", "losses",
                                             "regularization", "early_stopping", "augment",
                                             "metrics", "progress")},
    **{name: f"runs.{name}" for name in ("rundir", "checkpoint", "atomic")},
    **{name: f"experiments.{name}" for name in ("compare", "search", "lrfind", "trajectories",
                                                "diagnostics")},
    **{name: f"analysis.{name}" for name in ("stats", "plots", "report")},
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports ``trainlab.<old>`` as its new module (the very same module object)."""

    def find_spec(self, fullname, path=None, target=None):
        package, _, old = fullname.rpartition(".")
        if package == __name__ and old in _MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        old = module.__name__.rpartition(".")[2]
        # the import system returns what sys.modules holds once this returns: the real module
        sys.modules[module.__name__] = importlib.import_module(f".{_MOVED[old]}", __name__)


def __getattr__(name: str):
    if name in _MOVED:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


sys.meta_path.append(_MovedModules())
