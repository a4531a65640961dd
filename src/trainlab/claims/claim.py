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
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path

from ..registry import Registry

#: Every claim, by id; the catalogue modules add to it.
CLAIMS = Registry("claim", "--only")

#: The package whose source :func:`code_digest` hashes.
PACKAGE = Path(__file__).resolve().parents[1]


#: What a claim's ``kind`` may be.
KINDS = ("exact", "demonstration", "empirical")
#: What a claim's ``direction`` may be: the effect (as its analysis orients it) claimed above
#: zero or delta, below, equal within delta (or exactly), or not worse by more than delta.
DIRECTIONS = ("greater", "less", "equal", "at least as good")
#: The fewest seeds an empirical claim runs, whatever its power calculation says.
MIN_EMPIRICAL_SEEDS = 10
#: The most seeds a power calculation may ask for; a claim that needs more is marked
#: underpowered in its record rather than run for hours.
MAX_SEEDS = 20


@dataclass(frozen=True)
class Tuning:
    """How every arm of a comparison gets its own hyperparameter, with the same budget.

    ``arms``: arm name -> the measuring function's keyword that sets that arm's value (e.g.
    ``{"sgd": "lr_sgd", "nesterov": "lr_nesterov"}``). ``grid``: the values tried, one tuple for
    all arms or ``{arm: tuple}`` (every arm's grid has the same length: the same budget).
    ``score(result, arm) -> float``: lower is better, read from one measurement's result; it
    must come from data the verdict does not use (validation data, or the training objective
    of seeds the verdict does not use, for a claim about optimization), as ``on`` says in
    words. ``seeds``: tuning seeds per grid value, disjoint from the evaluation seeds
    (:data:`TUNING_SEED`). A value chosen at an edge of its grid extends that arm's grid by one
    more step of the same ratio beyond it, at most ``extend`` times per side; still at an edge
    after that, the arm is recorded ``at_edge``. ``params``: settings of the measurement that
    tuning changes (e.g. ``{"evaluate_test": False}``), else the claim's own."""

    arms: dict
    grid: tuple | dict
    score: Callable[[dict, str], float]
    on: str
    seeds: int = 2
    extend: int = 3
    params: dict = field(default_factory=dict)

    def grid_of(self, arm: str) -> tuple:
        """The starting grid of ``arm``, ascending."""
        grid = self.grid[arm] if isinstance(self.grid, dict) else self.grid
        return tuple(sorted(grid))


#: Tuning seeds start here: far from the evaluation seeds (0, 1, ... plus ``--seed-offset``).
TUNING_SEED = 100_000


@dataclass(frozen=True)
class Claim:
    """One claim, pre-registered: everything that decides its verdict is declared here, before
    any result is seen.

    The registration (the issue's and Lakens 2018's fields): ``quote``, the deck's words
    verbatim (flattened slide text; ``" ... "`` joins pieces that stand apart in the deck) at
    ``lecture`` (the seed file) and ``slide`` (``s164``, or ``line 1234`` where the deck has no
    slide numbers); ``paper``: the paper the deck cites for the statement, when it is the
    paper's claim; ``statement``: the claim in trainlab's words; ``operationalization``: what is
    measured, the arms, the data and the budget; ``kind``: ``exact`` (a deterministic check,
    one seed set), ``demonstration`` (a constructed case that shows the mechanism) or
    ``empirical`` (a typical case, seeds drawn, tested); ``primary_metric``: the quantity the
    verdict is about, matching the statement; ``direction``: one of :data:`DIRECTIONS`;
    ``delta``: the smallest effect that matters, in the metric's units, and ``delta_reason``,
    why that size; ``pilot_sd``: the per-seed standard deviation of the effect in a pilot run
    (``pilot_seeds`` seeds), from which :func:`register` sets ``seeds`` by a power calculation
    (:func:`trainlab.claims.power.seeds_needed`, at least :data:`MIN_EMPIRICAL_SEEDS`);
    ``tuning``: how each arm's hyperparameters are chosen (:class:`Tuning`); ``history``: the
    verdicts of earlier rules or setups, kept beside the current one (each a dict with
    ``changed``, ``reason``, ``verdict``), so that a rule changed after seeing a result never
    replaces the first verdict on the record.

    ``seeds``: how many seeds it needs by default (1 for an exact, deterministic
    result: ``kind="exact"`` ignores ``--seeds``); ``cost_s``: estimated seconds per seed on one
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
    kind: str = "empirical"
    fast: bool = False
    cost_s: float = 1.0
    family: str | None = None
    delta: float | None = None
    deterministic: bool = True
    expected_verdict: tuple[str, ...] = ()
    note: str = ""
    quote: str = ""
    paper: str = ""
    operationalization: str = ""
    primary_metric: str = ""
    direction: str = ""
    delta_reason: str = ""
    pilot_sd: float | None = None
    pilot_seeds: int | None = None
    tuning: Tuning | None = None
    history: tuple[dict, ...] = ()

    @property
    def exact(self) -> bool:
        """A deterministic check: one seed set, ``--seeds`` ignored."""
        return self.kind == "exact"

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
    """A function as ``module:qualname`` (its source is in :func:`code_digest`), a dataclass
    (a :class:`Tuning`) as a dict of its fields named so, containers element by element; else
    as is: a form whose text is the same in every process."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _named(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, dict):
        return {str(k): _named(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_named(v) for v in value]
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
    gets its catalogue module's (``catalogue_sgd`` -> ``sgd``). An empirical claim with a pilot
    standard deviation and a delta gets its seed count from the power calculation
    (:func:`planned_seeds`)."""
    if not claim.family:
        module = claim.measure.__module__.rsplit(".", 1)[-1]
        claim = replace(claim, family=module.removeprefix("catalogue_"))
    if claim.kind == "empirical" and claim.pilot_sd is not None and claim.delta:
        claim = replace(claim, seeds=planned_seeds(claim.pilot_sd, claim.delta))
    CLAIMS.add(claim.id, lambda: claim, claim.statement, claim=claim, lecture=claim.lecture)
    return claim


def planned_seeds(sd: float, delta: float) -> int:
    """Seeds for 80% power at ``delta`` with per-seed standard deviation ``sd``
    (:func:`trainlab.claims.power.seeds_needed`), at least :data:`MIN_EMPIRICAL_SEEDS` and at
    most :data:`MAX_SEEDS`."""
    from .power import seeds_needed

    return min(MAX_SEEDS, max(MIN_EMPIRICAL_SEEDS, seeds_needed(sd, delta)))


def underpowered(claim: Claim) -> bool:
    """An empirical claim whose power calculation asked for more than :data:`MAX_SEEDS` seeds."""
    from .power import seeds_needed

    if claim.kind != "empirical" or claim.pilot_sd is None or not claim.delta:
        return False
    return seeds_needed(claim.pilot_sd, claim.delta) > MAX_SEEDS


#: The seed files, where :func:`deck_text` reads them (``shared/seeds`` beside the checkout).
DECKS = Path(__file__).resolve().parents[3].parent / "shared" / "seeds"


def flat(text: str) -> str:
    """``text`` with every run of white space as one space, stripped: the form quotes are
    compared in (the decks are flattened slides, their line breaks are not the speaker's)."""
    return " ".join(text.split())


@functools.cache
def deck_text(lecture: str, folder: Path = DECKS) -> str | None:
    """The flattened text of seed file ``lecture``, or None when the decks are not there."""
    path = folder / lecture
    return flat(path.read_text(errors="replace")) if path.is_file() else None


def quote_found(quote: str, deck: str) -> bool:
    """Whether ``quote`` is in ``deck`` verbatim (both flattened): its pieces between
    ``" ... "`` each occur, in order."""
    position = 0
    for piece in flat(quote).split(" ... "):
        found = deck.find(piece.strip(), position)
        if found < 0:
            return False
        position = found + len(piece.strip())
    return True


def preregistration_problems(claim: Claim, decks: Path = DECKS) -> list[str]:
    """What ``claim`` lacks of its pre-registration, one phrase each (empty: complete): the
    fields, a quote that is in its deck verbatim, a known kind and direction, and for an
    empirical claim a delta with its reason and at least :data:`MIN_EMPIRICAL_SEEDS` seeds."""
    control = bool(claim.expected_verdict)  # a control has no deck to quote
    problems = [
        f"no {name}"
        for name in ("quote", "operationalization", "primary_metric", "statement")
        if not getattr(claim, name).strip() and not (control and name == "quote")
    ]
    if claim.kind not in KINDS:
        problems.append(f"kind {claim.kind!r} is not one of {', '.join(KINDS)}")
    if claim.direction not in DIRECTIONS:
        problems.append(f"direction {claim.direction!r} is not one of {', '.join(DIRECTIONS)}")
    deck = deck_text(claim.lecture, decks)
    if claim.quote and deck is not None and not quote_found(claim.quote, deck):
        problems.append(f"quote not found verbatim in {claim.lecture}")
    if claim.kind == "empirical":
        if claim.delta is None:
            problems.append("no delta")
        if not claim.delta_reason.strip():
            problems.append("no delta_reason")
        if claim.seeds < MIN_EMPIRICAL_SEEDS:
            problems.append(f"{claim.seeds} seeds (empirical: >= {MIN_EMPIRICAL_SEEDS})")
        if claim.pilot_sd is None:
            problems.append("no pilot_sd (the power calculation's per-seed standard deviation)")
    return problems


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
