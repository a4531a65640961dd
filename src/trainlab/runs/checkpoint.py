"""Checkpoints: written atomically, read without executing code from the file.

``last.pt`` holds everything needed to continue a run exactly (model, optimizer, schedule,
early-stopping state, every random generator, the metrics so far); ``best.pt`` holds the weights
of the best epoch. Both are plain ``torch.save`` dicts of tensors and numbers, loaded with
``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from .atomic import atomic_write
from ..errors import UserError


def save(path: str | Path, state: dict) -> None:
    atomic_write(path, lambda f: torch.save(state, f))


def load(path: str | Path, device: torch.device | str = "cpu") -> dict:
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise UserError(f"checkpoint {str(path)!r} does not exist") from None
    except (RuntimeError, OSError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as e:
        raise UserError(f"checkpoint {str(path)!r} cannot be read ({str(e).splitlines()[0]})") from None


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
