"""A claim of the lectures as a small declarative definition, written before results are seen.

A :class:`Claim` holds the statement as the lecture makes it, its source (seed file and slide),
the experiment (a picklable module-level function ``measure(seed, **params) -> dict`` built on
trainlab's own pieces), the analysis that turns the per-seed dicts into an estimate and a typed
verdict (:mod:`trainlab.claims.verdicts`), and a plot.

:meth:`Claim.digest` names the folder its measurements are cached in. It covers everything a
result depends on: the claim's own fields (constants, rule, delta, seed count), the source of
every ``.py`` file of trainlab (:func:`code_digest`: whatever helper the measurement calls,
inside ``claims/`` or not) and the versions of Python, PyTorch and NumPy. Any change to
trainlab's code therefore re-measures every claim: the simplest rule that never reuses a stale
result. A claim whose measurement is not deterministic (real processes, timing;
``deterministic=False``) is measured anew on every run instead of read back.
"""

from __future__ import annotations

import functools
import hashlib
import json
import platform
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from ..registry import Registry

#: Every claim, by id; the catalogue modules add to it.
CLAIMS = Registry("claim", "--only")

#: The package whose source :func:`code_digest` hashes.
PACKAGE = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Claim:
    """One claim. ``seeds``: how many seeds it needs by default (1 for an exact, deterministic
    result: ``exact=True`` ignores ``--seeds``); ``cost_s``: estimated seconds per seed on one
    core; ``fast``: part of ``--fast`` (robust verdict); ``family``: the claims whose p-values
    are Holm-corrected together (None: the catalogue module's, e.g. ``sgd`` for
    ``catalogue_sgd``; :func:`register` fills it in); ``delta``: the smallest effect of interest
    in the metric's units (None: not declared, judged with 0; the analysis reads it as
    ``rule["delta"]``); ``deterministic``: False for a measurement that differs between runs
    with the same seed (real processes, timing), never read back from the cache;
    ``expected_verdict``: for a control claim, the verdict kinds it must reach (a control that
    does not is reported as a failure)."""

    id: str
    statement: str
    lecture: str
    slide: str
    measure: Callable[..., dict]
    analyze: Callable[[list[dict], dict], object]
    plot: Callable[..., None]
    params: dict = field(default_factory=dict)
    rule: dict = field(default_factory=dict)
    statistic: str = ""
    seeds: int = 5
    exact: bool = False
    fast: bool = False
    cost_s: float = 1.0
    family: str | None = None
    delta: float | None = None
    deterministic: bool = True
    expected_verdict: tuple[str, ...] = ()
    note: str = ""

    def seed_count(self, asked: int | None) -> int:
        """Seeds to run: the claim's own count if exact, else ``asked`` (or the default)."""
        return self.seeds if self.exact or asked is None else asked

    def judge(self, results: list[dict]):
        """The claim's verdict on ``results`` (one dict per seed): its analysis, given the rule
        with the claim's ``delta`` under ``"delta"``."""
        return self.analyze(results, {**self.rule, "delta": self.delta})

    def digest(self, seeds: int) -> str:
        """12 hex digits of SHA-256 over what a result of this claim run with ``seeds`` seeds
        depends on: every field of the claim (its functions by module and name), ``seeds``,
        :func:`code_digest` (the source of all of trainlab) and the versions of Python, PyTorch
        and NumPy."""
        parts = {
            f.name: _named(getattr(self, f.name)) for f in fields(self) if f.name not in ("cost_s",)
        }
        parts.update(seeds_run=seeds, code=code_digest(), versions=versions())
        text = json.dumps(parts, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def _named(value):
    """A function as ``module:qualname`` (its source is in :func:`code_digest`); else as is."""
    if callable(value):
        return f"{value.__module__}:{getattr(value, '__qualname__', repr(value))}"
    return value


def source_digest(root: Path) -> str:
    """SHA-256 over the relative path and bytes of every ``.py`` file under ``root``, in sorted
    order."""
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """:func:`source_digest` of trainlab's package: any change to code that a measurement may
    run changes it. Computed once per process (a tree edited while a catalogue runs does not
    split one run's claims across two digests)."""
    return source_digest(PACKAGE)


@functools.lru_cache(maxsize=1)
def versions() -> dict:
    """The versions a measurement's numbers depend on besides trainlab's code."""
    import numpy
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
    }


def register(claim: Claim) -> Claim:
    """Add ``claim`` to :data:`CLAIMS` (an id is declared once); a claim without a ``family``
    gets its catalogue module's (``catalogue_sgd`` -> ``sgd``)."""
    if not claim.family:
        module = claim.measure.__module__.rsplit(".", 1)[-1]
        claim = replace(claim, family=module.removeprefix("catalogue_"))
    CLAIMS.add(claim.id, lambda: claim, claim.statement, claim=claim, lecture=claim.lecture)
    return claim


#: The catalogue modules, in the order of the lectures' recipe; each registers its claims.
CATALOGUES = (
    "catalogue_optimization",
    "catalogue_sgd",
    "catalogue_adaptive",
    "catalogue_losses",
    "catalogue_init",
    "catalogue_architecture",
    "catalogue_normalization",
    "catalogue_regularization",
    "catalogue_recurrent",
    "catalogue_distributed",
    "catalogue_controls",
)


def all_claims() -> list[Claim]:
    """Every registered claim, in catalogue order."""
    import importlib

    for name in CATALOGUES:
        importlib.import_module(f"{__package__}.{name}")
    return [e.claim for e in CLAIMS.entries()]
