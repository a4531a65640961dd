"""trainlab: train neural networks with the techniques of the lectures, and check their claims.

The library API mirrors the CLI: :func:`train`, :func:`resume`, :func:`evaluate`,
:func:`load_model`; the pieces (``trainlab.data``, ``trainlab.models``, ``trainlab.optim``,
``trainlab.schedules``, ``trainlab.losses``, ``trainlab.loop``) work in plain PyTorch code too.
"""

from .api import evaluate, load_model, resume, train
from .config import resolve as resolve_config
from .errors import UserError

__version__ = "0.1.0"
__all__ = ["UserError", "evaluate", "load_model", "resolve_config", "resume", "train"]
