"""A claim of the lectures as a small declarative definition, written before results are seen.

A :class:`Claim` holds the statement as the lecture makes it, its source (seed file and slide),
the experiment (a picklable module-level function ``measure(seed, **params) -> dict`` built on
trainlab's own pieces), the analysis that turns the per-seed dicts into a statistic and a
verdict (see :mod:`trainlab.claims.verdicts`), and a plot. Its :meth:`Claim.digest` hashes all
of that (the functions' source included), so a changed definition invalidates only its own
cached results.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from ..registry import Registry

#: Every claim, by id; the catalogue modules add to it.
CLAIMS = Registry("claim", "--only")


@dataclass(frozen=True)
class Claim:
    """One claim. ``seeds``: how many seeds it needs by default (1 for an exact, deterministic
    result: ``exact=True`` ignores ``--seeds``); ``cost_s``: estimated seconds per seed on one
    core; ``fast``: part of ``--fast`` (robust verdict); ``family``: claims whose p-values are
    Holm-corrected together."""

    id: str
    statement: str
    lecture: str
    slide: str
    measure: Callable[..., dict]
    analyze: Callable[[list[dict], dict], dict]
    plot: Callable[..., None]
    params: dict = field(default_factory=dict)
    rule: dict = field(default_factory=dict)
    statistic: str = ""
    seeds: int = 5
    exact: bool = False
    fast: bool = False
    cost_s: float = 1.0
    family: str = ""
    note: str = ""

    def seed_count(self, asked: int | None) -> int:
        """Seeds to run: the claim's own count if exact, else ``asked`` (or the default)."""
        return self.seeds if self.exact or asked is None else asked

    def digest(self) -> str:
        """12 hex digits of SHA-256 over the definition: fields, the source of its functions and
        of the claims package's functions and classes they call (one level: a changed helper
        invalidates the claims that use it, a changed sibling claim does not). Any change to
        the experiment, the rule or the statement changes it."""
        parts = {
            k: getattr(self, k)
            for k in ("id", "statement", "params", "rule", "seeds", "exact", "statistic")
        }
        text = json.dumps(parts, sort_keys=True, default=str)
        for fn in (self.measure, self.analyze):
            text += _source(fn) + _helpers(fn)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def _source(fn: Callable) -> str:
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        return f"{fn.__module__}.{fn.__qualname__}"


def _helpers(fn: Callable) -> str:
    """The source of the claims package's functions and classes that ``fn`` names."""
    names = getattr(getattr(fn, "__code__", None), "co_names", ())
    found = [getattr(fn, "__globals__", {}).get(n) for n in sorted(set(names))]
    return "".join(
        _source(obj)
        for obj in found
        if (inspect.isfunction(obj) or inspect.isclass(obj))
        and obj.__module__.startswith(__package__)
    )


def register(claim: Claim) -> Claim:
    """Add ``claim`` to :data:`CLAIMS` (an id is declared once)."""
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
)


def all_claims() -> list[Claim]:
    """Every registered claim, in catalogue order."""
    import importlib

    for name in CATALOGUES:
        importlib.import_module(f"{__package__}.{name}")
    return [e.claim for e in CLAIMS.entries()]
