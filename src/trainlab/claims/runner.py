"""Run claims: one measurement task per claim and seed, cached under ``--out`` in
``<claim id>-<digest>/seed-<seed>/result.json`` (:mod:`trainlab.experiments.grid`; the digest,
:meth:`~trainlab.claims.claim.Claim.digest`, covers the claim, its seed count and all of
trainlab's code), so that re-running computes only what is missing; a claim marked
``deterministic=False`` is measured anew every time. Then each claim's verdict, Holm's correction
over the catalogue's families (:func:`family_adjusted`), the control claims' check,
``claims.json``, ``claims.csv``, the reports and one PNG per claim."""

from __future__ import annotations

import csv
import difflib
import importlib
import json
import math
import sys
import textwrap
import time
from pathlib import Path

from ..analysis.stats import holm
from ..errors import UserError
from ..experiments.grid import Task, check_manifest, run_tasks, workers
from ..runs.atomic import atomic_write_text
from ..runs.rundir import read_json
from .claim import Claim, all_claims, underpowered
from .report import kind, write_html, write_markdown
from .tuning import slug, tune
from .verdicts import Verdict, holm_corrected

MANIFEST = {"experiment": "claims", "version": 1}
FAST_SEEDS = 3
COLUMNS = [
    "id",
    "lecture",
    "slide",
    "statement",
    "statistic",
    "estimate",
    "ci_low",
    "ci_high",
    "delta",
    "p",
    "decided_by",
    "family",
    "family_size",
    "p_holm",
    "verdict",
    "condition",
    "expected_verdict",
    "control_failed",
    "verdict_changed",
    "seeds",
    "wall_s",
]
WALL = "wall_s"


def select(claims: list[Claim], only: str | None, lecture: str | None, fast: bool) -> list[Claim]:
    """The claims ``--only`` (comma-separated ids; an unknown one lists close ones),
    ``--lecture`` (seed file name or its prefix) and ``--fast`` pick."""
    ids = [c.id for c in claims]
    if only:
        wanted = [i.strip() for i in only.split(",") if i.strip()]
        for i in wanted:
            if i not in ids:
                close = difflib.get_close_matches(i, ids, n=3, cutoff=0.4)
                hint = f" (close: {', '.join(close)})" if close else ""
                raise UserError(
                    f"--only {i!r}: no such claim{hint}; trainlab claims --list shows them"
                )
        claims = [c for c in claims if c.id in wanted]
    if lecture:
        claims = [c for c in claims if c.lecture.startswith(lecture)]
        if not claims:
            raise UserError(f"--lecture {lecture!r}: no claim cites it")
    return [c for c in claims if c.fast] if fast else claims


def tasks_for(
    claim: Claim, seeds: int, offset: int, out: Path, chosen: dict | None = None
) -> list[Task]:
    """One measurement per seed, in a folder named by the claim's id and its digest for
    ``seeds`` seeds; with ``chosen`` (the tuned arms' keywords and values) set over the
    claim's params, in a subfolder named by them."""
    folder = out / f"{claim.id}-{claim.digest(seeds)}"
    if chosen:
        folder = folder / f"tuned-{slug(chosen)}"
    name = f"{claim.measure.__module__}:{claim.measure.__qualname__}"
    arguments = {**claim.params, **(chosen or {})}
    return [
        Task(
            (claim.id, s),
            folder / f"seed-{s}",
            function=timed,
            kwargs={"measure": name, "arguments": {"seed": s, **arguments}},
            cost=claim.cost_s,
        )
        for s in range(offset, offset + seeds)
    ]


def tuning_folder(claim: Claim, out: Path) -> Path:
    """Where a claim's tuning measurements are cached: independent of the evaluation seed
    count (``--fast`` and a full run share them)."""
    return out / f"{claim.id}-tuning-{claim.digest(0)}"


def forget(tasks: list[Task]) -> None:
    """Remove the tasks' stored results, so that they are measured anew."""
    for t in tasks:
        (Path(t.folder) / "result.json").unlink(missing_ok=True)


def timed(measure: str, arguments: dict) -> dict:
    """The measuring function ``measure`` ("module:name") called with ``arguments``, with the
    seconds it took under ``"wall_s"`` (in the worker, so a claim's time is its own, whatever
    runs beside it). Named rather than passed, so that the cached signature is stable."""
    module, name = measure.split(":")
    function = getattr(importlib.import_module(module), name)
    start = time.perf_counter()
    result = function(**arguments)
    return {**result, WALL: time.perf_counter() - start}


def run(
    claims: list[Claim],
    out: Path,
    seeds: int | None = None,
    offset: int = 0,
    jobs: int | None = None,
    fast: bool = False,
    log=None,
    catalogue: list[Claim] | None = None,
    cluster: str | None = None,
    reference: dict | None = None,
) -> list[dict]:
    """Measure and judge ``claims``; write the outputs to ``out``; return the rows.

    The tasks start longest first (``Task.cost``: the claims' ``cost_s``). Each seed set's
    verdicts and deciding p-values are kept in ``seed-sets/offset-<K>.json``; a row names the
    verdicts other seed sets gave the same claim definition (``other_seed_sets``) and whether
    any differs (``verdict_changed``). Holm's correction runs over the families of
    ``catalogue`` (default: every registered claim) whatever subset runs
    (:func:`family_adjusted`). A control claim whose verdict is not one of its
    ``expected_verdict`` is marked ``control_failed`` and named in a line starting
    ``CONTROL FAILED`` (to ``log``, or standard error). ``cluster``: the address of a Dask
    scheduler to measure on (:func:`trainlab.experiments.grid.run_tasks`). ``reference``: the
    p of claims not run, from a published record (:func:`trainlab.claims.record.reference_p`),
    preferred to this folder's own records for Holm's correction."""
    if seeds is not None and seeds < 1:
        raise UserError(f"--seeds {seeds}: expected an integer >= 1")
    jobs = workers(jobs)
    catalogue = all_claims() if catalogue is None else catalogue
    with check_manifest(out, "claims-manifest.json", MANIFEST, "claims experiment"):
        asked = min(seeds or FAST_SEEDS, FAST_SEEDS) if fast else seeds
        folders = {c.id: tuning_folder(c, out) for c in claims}
        tuned = tune(claims, folders, offset, jobs, timed, log, cluster)
        plan = []
        for c in claims:
            chosen = tuned[c.id][0] if c.id in tuned else None
            ts = tasks_for(c, c.seed_count(asked), offset, out, chosen)
            if not c.deterministic:
                forget(ts)
            plan.append((c, ts))

        def arrived(task, result, done, total):
            if log:
                log(f"[{done}/{total}] {task.key[0]} seed {task.key[1]}")

        flat = [t for _, ts in plan for t in ts]
        by_task = {t.key: r for t, r in zip(flat, run_tasks(flat, jobs, arrived, cluster=cluster))}
        verdicts, measured, walls = {}, {}, {}
        for c, ts in plan:
            results = [dict(by_task[t.key]) for t in ts]
            walls[c.id] = sum(r.pop(WALL, 0.0) for r in results)
            measured[c.id] = results
            verdicts[c.id] = c.judge(results)
        folder = out / "seed-sets"
        recorded = _read_record(folder / f"offset-{offset}.json")
        adjusted = family_adjusted(
            {c.id: verdicts[c.id].p for c in claims},
            members(catalogue, claims),
            {**recorded, **(reference or {})},
        )
        rows = []
        for c in claims:
            p_holm, family, size = adjusted[c.id]
            v = holm_corrected(verdicts[c.id], p_holm, family, size)
            _, arms, tuning_wall = tuned.get(c.id, (None, {}, 0.0))
            row = _row(c, v, verdicts[c.id], len(measured[c.id]), walls[c.id] + tuning_wall)
            rows.append({**row, "arms": arms, "tuning_s": round(tuning_wall, 3)})
        _write_record(folder, offset, recorded, rows)
        compare_seed_sets(out, rows, offset)
        check_controls(rows, log)
        write(out, rows)
        for c, row in zip(claims, rows):
            plot(c, measured[c.id], row, out / f"{c.id}.png")
        write_markdown(out / "claims.md", rows)
        write_html(out / "claims.html", rows, claims, out)
        return rows


def members(catalogue: list[Claim], running: list[Claim]) -> dict[str, list[Claim]]:
    """The families: family name -> its claims, from ``catalogue`` with the ``running``
    claims in place of the catalogue's claims of the same id (and added if new)."""
    by_id = {c.id: c for c in catalogue}
    by_id.update({c.id: c for c in running})
    families: dict[str, list[Claim]] = {}
    for c in by_id.values():
        families.setdefault(c.family or "", []).append(c)
    return families


def family_adjusted(
    p_now: dict[str, float], families: dict[str, list[Claim]], recorded: dict
) -> dict[str, tuple[float, str, int]]:
    """Holm's correction (Holm 1979) of each claim in ``p_now`` ({id: the p that decided its
    verdict this run}) over its whole declared family, whichever of the family's claims ran:
    ``{id: (adjusted p, family, family size)}``.

    The family's other claims enter with the p that decided their verdict when it was last
    recorded for this seed set (``recorded``: ``{id: {"digest", "p", "seeds"}}``, used only if
    the digest is the claim's digest for that seed count now: same definition, same code), and
    with p = 1 otherwise. p = 1 is the conservative choice: Holm's adjusted p of a claim never
    falls when another p rises, so an unknown p taken as 1 gives the largest adjusted p that
    the claim could get, and the family size m is always the declared one. So ``--only``,
    ``--lecture`` and ``--fast`` cannot make a claim's adjusted p smaller than the whole
    catalogue's run would, and give the same one once the rest was recorded. A p that is nan
    (no test was possible) counts as 1 too."""
    out = {}
    for family, claims in families.items():
        ids = [c.id for c in claims]
        if not any(i in p_now for i in ids):
            continue
        ps = [_p_for(c, p_now, recorded) for c in claims]
        adjusted = holm(ps)
        for c, q in zip(claims, adjusted):
            if c.id in p_now:
                out[c.id] = (q, family, len(claims))
    return out


def _p_for(claim: Claim, p_now: dict[str, float], recorded: dict) -> float:
    """The claim's deciding p: this run's, else its valid recorded one, else 1."""
    p = p_now.get(claim.id)
    if p is None:
        r = recorded.get(claim.id) or {}
        seeds = r.get("seeds")
        if isinstance(seeds, int) and r.get("digest") == claim.digest(seeds):
            p = r.get("p")
    return 1.0 if p is None or not math.isfinite(p) else float(p)


def _read_record(path: Path) -> dict:
    return read_json(path, "delete it (it records this seed set's verdicts)") or {}


def _write_record(folder: Path, offset: int, known: dict, rows: list[dict]) -> None:
    """``seed-sets/offset-<K>.json``: per claim id its digest, seed count, verdict, verdict
    before Holm's correction and the p that decided that one, merged into what was recorded
    before (the other claims' records are kept)."""
    folder.mkdir(parents=True, exist_ok=True)
    for r in rows:
        known[r["id"]] = {
            "digest": r["digest"],
            "seeds": r["seeds"],
            "verdict": r["verdict"],
            "verdict_before_holm": r["verdict_before_holm"],
            "p": None if math.isnan(r["p"]) else r["p"],
        }
    atomic_write_text(
        folder / f"offset-{offset}.json", json.dumps(known, indent=2, sort_keys=True) + "\n"
    )


def compare_seed_sets(out: Path, rows: list[dict], offset: int) -> None:
    """In each row, the verdicts that the other seed sets recorded for the same claim
    definition (same digest): ``other_seed_sets`` ({offset: verdict}) and ``verdict_changed``.
    Only the verdict's kind counts."""
    folder = out / "seed-sets"
    others = {}
    for path in sorted(folder.glob("offset-*.json")):
        k = int(path.stem.split("-", 1)[1])
        if k != offset:
            others[k] = read_json(path, "delete it (it records that seed set's verdicts)")
    for r in rows:
        seen = {
            k: v[r["id"]]["verdict"]
            for k, v in others.items()
            if v.get(r["id"], {}).get("digest") == r["digest"]
        }
        r["other_seed_sets"] = seen
        r["verdict_changed"] = any(kind(v) != kind(r["verdict"]) for v in seen.values())


def check_controls(rows: list[dict], log=None) -> list[str]:
    """Mark each control claim's row ``control_failed`` when its verdict is not one it expects,
    and say so in a line starting ``CONTROL FAILED`` (to ``log``, or standard error); the
    failed ids. A failed control means the verdict machinery (or the measurement) cannot be
    trusted for this run."""
    failed = []
    for r in rows:
        if not r["expected_verdict"]:
            continue
        r["control_failed"] = r["verdict"] not in r["expected_verdict"]
        if r["control_failed"]:
            failed.append(r["id"])
            line = (
                f"CONTROL FAILED: {r['id']} came out '{r['verdict']}', expected "
                f"{' or '.join(repr(k) for k in r['expected_verdict'])}: {r['sentence']}"
            )
            (log or (lambda s: print(s, file=sys.stderr)))(line)
    return failed


def _row(claim: Claim, v: Verdict, raw: Verdict, seeds: int, wall: float) -> dict:
    """The claim's row: its source, the fields of its verdict ``v`` (and the kind of ``raw``,
    the verdict before Holm's correction), seeds, and the seconds its measurements took (summed
    over seeds, each timed in its worker)."""
    return {
        "id": claim.id,
        "lecture": claim.lecture,
        "slide": claim.slide,
        "quote": claim.quote,
        "paper": claim.paper,
        "statement": claim.statement,
        "operationalization": claim.operationalization,
        "kind": claim.kind,
        "primary_metric": claim.primary_metric,
        "direction": claim.direction,
        "delta_reason": claim.delta_reason,
        "pilot_sd": claim.pilot_sd,
        "pilot_seeds": claim.pilot_seeds,
        "underpowered": underpowered(claim),
        "params": claim.params,
        "history": list(claim.history),
        **v.record(),
        "verdict_before_holm": raw.label,
        "seeds": seeds,
        "wall_s": round(wall, 3),
        "digest": claim.digest(seeds),
        "deterministic": claim.deterministic,
        "expected_verdict": list(claim.expected_verdict),
        "control_failed": False,
        "note": claim.note,
    }


def write(out: Path, rows: list[dict]) -> None:
    """``claims.json`` (every field) and ``claims.csv`` (:data:`COLUMNS`)."""
    atomic_write_text(out / "claims.json", json.dumps(rows, indent=2) + "\n")
    with open(out / "claims.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for r in rows:
            flat = {
                **r,
                "ci_low": r["ci"][0],
                "ci_high": r["ci"][1],
                "decided_by": r["decided_by"]["test"],
                "expected_verdict": " or ".join(r["expected_verdict"]),
            }
            w.writerow(["" if flat.get(k) is None else flat.get(k) for k in COLUMNS])


def plot(claim: Claim, results: list[dict], row: dict, path: Path):
    """One PNG: the claim's own plot, titled with its id and verdict, in the shared style (plain
    numbers on log axes, everything inside the figure). Returns the figure."""
    from ..analysis import style

    fig, ax = style.figure(5.5, 4)
    claim.plot(results, row, ax)
    label = f"{row['verdict']} {row['condition']}".strip()
    title = f"{claim.id}: {label}"
    if len(title) > 50:  # the id on its own line, the verdict wrapped to the plot's width
        title = f"{claim.id}:\n" + textwrap.fill(label, 60)
    ax.set_title(title, fontsize=9)
    return style.save(fig, path)


def listing(claims: list[Claim]) -> list[str]:
    """``--list``: one line per claim: id, lecture file and slide, cost, statement."""
    return [
        f"{c.id}  [{c.lecture} {c.slide}]  ~{c.cost_s * c.seed_count(None):.0f} s"
        f"{'  (fast)' if c.fast else ''}{'  (control)' if c.expected_verdict else ''}"
        f"\n    {c.statement}"
        for c in claims
    ]


__all__ = ["all_claims", "family_adjusted", "listing", "run", "select"]
