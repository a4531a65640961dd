"""Checkpoints: written atomically, read without executing code from the file.

``last.pt`` holds everything needed to continue a run exactly (model, optimizer, schedule,
early-stopping state, every random generator, the metrics so far); ``best.pt`` holds the weights
of the best epoch. Both are plain ``torch.save`` dicts of tensors and numbers, loaded with
``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import pickle
import warnings
import zipfile
from pathlib import Path

import torch

from ..errors import UserError
from .atomic import atomic_write


def save(path: str | Path, state: dict) -> None:
    atomic_write(path, lambda f: torch.save(state, f))


def load(path: str | Path, device: torch.device | str = "cpu") -> dict:
    """The checkpoint at ``path`` on ``device``; a missing, damaged or foreign file is one
    :class:`UserError` line naming it. Whatever ``torch.load`` raises on a damaged file
    (random bytes end in IndexError, UnicodeDecodeError, KeyError, ... from inside its reader)
    means the same: the file is not a checkpoint trainlab can read."""
    try:
        with warnings.catch_warnings():  # a damaged file's odd protocol number warns, too
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise UserError(f"checkpoint {str(path)!r} does not exist") from None
    except pickle.UnpicklingError:
        # not PyTorch's advice to load with weights_only=False: that would run the file's code
        raise UserError(
            f"checkpoint {str(path)!r} cannot be read: it holds more than tensors "
            "and numbers (refused: loading it could run code)"
        ) from None
    except (OSError, zipfile.BadZipFile) as e:
        raise UserError(f"checkpoint {str(path)!r} cannot be read ({_first_line(e)})") from None
    except Exception as e:  # noqa: BLE001 - any failure of the reader on a damaged file
        raise UserError(
            f"checkpoint {str(path)!r} cannot be read: damaged, or not a checkpoint ({_named(e)})"
        ) from None
    if not isinstance(state, dict):
        raise UserError(
            f"checkpoint {str(path)!r} cannot be read: it holds a "
            f"{type(state).__name__}, not a checkpoint"
        )
    return state


# What restoring a state of another shape raises: load_state_dict's size or key mismatch
# (RuntimeError), a missing entry (KeyError), an optimizer's group mismatch (ValueError), ...
MISMATCH = (RuntimeError, KeyError, ValueError, TypeError, IndexError, AttributeError)


def mismatch(path: str | Path, error: BaseException, advice: str) -> UserError:
    """The one line for a checkpoint that was read but does not fit the model, optimizer or
    schedule the run's config.toml builds (either file damaged, or edited)."""
    return UserError(
        f"checkpoint {str(path)!r} does not fit what the run's config.toml builds "
        f"({_named(error)}): one of the two is damaged or was edited; {advice}"
    )


def _named(error: BaseException) -> str:
    """``Type: first line of the message``, or the type alone when the message is empty."""
    name, lines = type(error).__name__, str(error).strip().splitlines()
    return f"{name}: {lines[0]}" if lines and lines[0] != name else name


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def rng_state(shuffle: torch.Generator) -> dict:
    """Every random generator the loop draws from: the global CPU (and CUDA) generators, which
    initialization and dropout use, and the generator that shuffles the samples."""
    state = {"torch": torch.get_rng_state(), "shuffle": shuffle.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict, shuffle: torch.Generator) -> None:
    torch.set_rng_state(state["torch"].cpu())
    shuffle.set_state(state["shuffle"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
