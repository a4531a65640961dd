"""Run claims: one measurement task per claim and seed, cached under ``--out`` in
``<claim id>-<definition digest>/seed-<seed>/result.json`` (:mod:`trainlab.experiments.grid`),
so that re-running computes only what is missing and a changed definition re-runs only its own
claim. Then each claim's analysis, Holm's correction per family, ``claims.json``,
``claims.csv`` and one PNG per claim."""

from __future__ import annotations

import csv
import difflib
import importlib
import json
import textwrap
import time
from pathlib import Path

from ..errors import UserError
from ..experiments.grid import Task, check_manifest, run_tasks, workers
from ..runs.atomic import atomic_write_text
from ..runs.rundir import read_json
from .claim import Claim, all_claims
from .report import kind, write_html, write_markdown
from .verdicts import apply_holm

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
    "p",
    "p_holm",
    "verdict",
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


def tasks_for(claim: Claim, seeds: int, offset: int, out: Path) -> list[Task]:
    """One measurement per seed, in a folder named by the claim's id and digest."""
    folder = out / f"{claim.id}-{claim.digest()}"
    name = f"{claim.measure.__module__}:{claim.measure.__qualname__}"
    return [
        Task(
            (claim.id, s),
            folder / f"seed-{s}",
            function=timed,
            kwargs={"measure": name, "arguments": {"seed": s, **claim.params}},
            cost=claim.cost_s,
        )
        for s in range(offset, offset + seeds)
    ]


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
) -> list[dict]:
    """Measure and judge ``claims``; write the outputs to ``out``; return the rows.

    The tasks start longest first (``Task.cost``: the claims' ``cost_s``). Each seed set's
    verdicts are kept in ``seed-sets/offset-<K>.json``; a row names the verdicts other seed
    sets gave the same claim definition (``other_seed_sets``) and whether any differs
    (``verdict_changed``)."""
    if seeds is not None and seeds < 1:
        raise UserError(f"--seeds {seeds}: expected an integer >= 1")
    jobs = workers(jobs)
    with check_manifest(out, "claims-manifest.json", MANIFEST, "claims experiment"):
        asked = min(seeds or FAST_SEEDS, FAST_SEEDS) if fast else seeds
        plan = [(c, tasks_for(c, c.seed_count(asked), offset, out)) for c in claims]

        def arrived(task, result, done, total):
            if log:
                log(f"[{done}/{total}] {task.key[0]} seed {task.key[1]}")

        flat = [t for _, ts in plan for t in ts]
        by_task = {t.key: r for t, r in zip(flat, run_tasks(flat, jobs, arrived))}
        rows, measured = [], {}
        for c, ts in plan:
            results = [dict(by_task[t.key]) for t in ts]
            wall = sum(r.pop(WALL, 0.0) for r in results)
            measured[c.id] = results
            rows.append(_judge(c, results, wall))
        apply_holm(rows, [c.family for c in claims])
        compare_seed_sets(out, rows, offset)
        write(out, rows)
        for c, row in zip(claims, rows):
            plot(c, measured[c.id], row, out / f"{c.id}.png")
        write_markdown(out / "claims.md", rows)
        write_html(out / "claims.html", rows, claims, out)
        return rows


def compare_seed_sets(out: Path, rows: list[dict], offset: int) -> None:
    """Record this seed set's verdicts and, in each row, those of the other seed sets run with
    the same claim definition (same digest): ``other_seed_sets`` ({offset: verdict}) and
    ``verdict_changed``. Only the verdict's kind counts ("holds only when ..." is one kind)."""
    folder = out / "seed-sets"
    folder.mkdir(parents=True, exist_ok=True)
    mine = folder / f"offset-{offset}.json"
    known = read_json(mine, "delete it (it records this seed set's verdicts)") or {}
    known.update({r["id"]: {"digest": r["digest"], "verdict": r["verdict"]} for r in rows})
    atomic_write_text(mine, json.dumps(known, indent=2, sort_keys=True) + "\n")
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


def _judge(claim: Claim, results: list[dict], wall: float) -> dict:
    """The claim's row: its source, the analysis's statistic and verdict, seeds, and the
    seconds its measurements took (summed over seeds, each timed in its worker)."""
    verdict = claim.analyze(results, claim.rule)
    return {
        "id": claim.id,
        "lecture": claim.lecture,
        "slide": claim.slide,
        "statement": claim.statement,
        **verdict,
        "seeds": len(results),
        "wall_s": round(wall, 3),
        "digest": claim.digest(),
        "note": claim.note,
    }


def write(out: Path, rows: list[dict]) -> None:
    """``claims.json`` (every field) and ``claims.csv`` (:data:`COLUMNS`)."""
    atomic_write_text(out / "claims.json", json.dumps(rows, indent=2) + "\n")
    with open(out / "claims.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for r in rows:
            flat = {**r, "ci_low": r["ci"][0], "ci_high": r["ci"][1]}
            w.writerow([flat.get(k, "") for k in COLUMNS])


def plot(claim: Claim, results: list[dict], row: dict, path: Path):
    """One PNG: the claim's own plot, titled with its id and verdict, in the shared style (plain
    numbers on log axes, everything inside the figure). Returns the figure."""
    from ..analysis import style

    fig, ax = style.figure(5.5, 4)
    claim.plot(results, row, ax)
    title = f"{claim.id}: {row['verdict']}"
    if len(title) > 50:  # the id on its own line, the verdict wrapped to the plot's width
        title = f"{claim.id}:\n" + textwrap.fill(row["verdict"], 60)
    ax.set_title(title, fontsize=9)
    return style.save(fig, path)


def listing(claims: list[Claim]) -> list[str]:
    """``--list``: one line per claim: id, lecture file and slide, cost, statement."""
    return [
        f"{c.id}  [{c.lecture} {c.slide}]  ~{c.cost_s * c.seed_count(None):.0f} s"
        f"{'  (fast)' if c.fast else ''}\n    {c.statement}"
        for c in claims
    ]


__all__ = ["all_claims", "listing", "run", "select"]
