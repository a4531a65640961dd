"""The claims' reports: ``claims.html`` (one self-contained page, grouped by lecture, the verdict
counts at the top, filters by verdict and lecture, and per claim its statement, source, what was
run, plot, statistic, verdict and one plain sentence) and ``claims.md`` (the verdict table that
README.md shows)."""

from __future__ import annotations

import inspect
from collections import Counter
from pathlib import Path

from ..analysis.report import Page, number, styled
from ..runs.atomic import atomic_write_text
from .claim import Claim

#: The verdict kinds, in the order the summary shows them.
KINDS = ("holds", "holds only when", "does not hold", "inconclusive")


def kind(verdict: str) -> str:
    """The verdict without its condition (``holds only when ...`` -> ``holds only when``)."""
    return "holds only when" if verdict.startswith("holds only") else verdict


def lecture_title(lecture: str) -> str:
    """The seed file and the deck's title, e.g. ``000_c258... (Neural Networks: Optimization
    Part 2)``."""
    return f"{lecture} ({TITLES.get(lecture[:3], 'lecture')})"


TITLES = {
    "000": "Neural Networks: Optimization Part 2",
    "001": "Training Neural Networks, 6.036",
    "002": "Lecture 7: Training deep neural networks",
    "003": "Advanced Training Techniques",
    "004": "Deep Learning for Graphics, training part",
}


def summary_counts(rows: list[dict]) -> dict[str, int]:
    """How many claims reached each verdict kind."""
    counts = Counter(kind(r["verdict"]) for r in rows)
    return {k: counts.get(k, 0) for k in KINDS}


def _ci(r: dict) -> str:
    return f"{r['estimate']:.3g} [{r['ci'][0]:.3g}, {r['ci'][1]:.3g}]"


def _changed(r: dict) -> str:
    if not r.get("other_seed_sets"):
        return ""
    others = ", ".join(f"offset {k}: {v}" for k, v in sorted(r["other_seed_sets"].items()))
    return f" (verdict changed between seed sets: {others})" if r.get("verdict_changed") else ""


def write_markdown(path: Path, rows: list[dict]) -> None:
    """The verdict table as Markdown: claim, source, verdict, estimate [95% CI], p, test."""
    counts = ", ".join(f"{n} {k}" for k, n in summary_counts(rows).items())
    lines = [
        f"{len(rows)} claims: {counts}.",
        "",
        "| claim | lecture, slide | verdict | estimate [95% CI] | p (Holm) | statistic |",
        "|---|---|---|---|---:|---|",
    ]
    for r in rows:
        p = r.get("p_holm", r["p"])
        verdict = r["verdict"] + (
            " (changed between seed sets)" if r.get("verdict_changed") else ""
        )
        lines.append(
            f"| `{r['id']}` | {r['lecture'][:3]} {r['slide']} | {verdict} | {_ci(r)} "
            f"| {p:.2g} | {r['statistic']} |"
        )
    atomic_write_text(path, "\n".join(lines) + "\n")


LEADS = {
    "holds": "The measurements support the claim",
    "holds only when": "The claim holds only under the condition stated",
    "does not hold": "The measurements contradict the claim",
    "inconclusive": "These seeds cannot decide the claim either way",
}


def plain_sentence(r: dict) -> str:
    """One sentence: what the verdict means, then the analysis's explanation."""
    return f"{LEADS[kind(r['verdict'])]}: {r['explanation']}."


def _what_ran(claim: Claim) -> str:
    """The measuring function's docstring and its parameters."""
    doc = inspect.getdoc(claim.measure) or claim.measure.__name__
    params = ", ".join(f"{k} = {v}" for k, v in claim.params.items())
    return f"{' '.join(doc.split())} Parameters: {params or 'none'}."


def write_html(path: Path, rows: list[dict], claims: list[Claim], plots: Path) -> None:
    """``claims.html``: the verdict summary, the filters, then one section per lecture with one
    per claim (its plot ``plots/<id>.png`` embedded)."""
    by_id = {c.id: c for c in claims}
    lectures = sorted({r["lecture"] for r in rows})
    page = Page("trainlab claims: what the lectures claim, measured")
    counts = summary_counts(rows)
    changed = [r["id"] for r in rows if r.get("verdict_changed")]
    page.paragraph(
        f"{len(rows)} claims. ",
        *[styled(k.replace(" ", "-"), f"{n} {k}; ") for k, n in counts.items()],
        f"{len(changed)} changed verdict between seed sets"
        + (f": {', '.join(changed)}." if changed else "."),
    )
    page.table(["verdict", "claims"], [[k, str(n)] for k, n in counts.items()])
    page.filters({"verdict": list(KINDS), "lecture": [lec[:3] for lec in lectures]})
    for lecture in lectures:
        page.section("lecture", lecture=lecture[:3]).heading(lecture_title(lecture))
        for r in (r for r in rows if r["lecture"] == lecture):
            claim = by_id[r["id"]]
            verdict_class = kind(r["verdict"]).replace(" ", "-")
            page.section("claim", lecture=lecture[:3], verdict=kind(r["verdict"]))
            page.heading(r["id"], level=3)
            page.paragraph(styled("verdict " + verdict_class, r["verdict"]), _changed(r))
            page.paragraph("Claim: ", r["statement"], f" (source: {lecture}, slide {r['slide']})")
            page.paragraph("What was run: ", _what_ran(claim))
            if r.get("note"):
                page.paragraph("Note on the setup: ", r["note"])
            image = plots / f"{r['id']}.png"
            if image.is_file():
                page.image(image, f"plot for {r['id']}")
            p_holm = r.get("p_holm", r["p"])
            page.table(
                ["statistic", "estimate", "95% CI", "p", "p (Holm)", "seeds", "seconds"],
                [
                    [
                        r["statistic"],
                        number(r["estimate"], 4),
                        f"{r['ci'][0]:.4g} to {r['ci'][1]:.4g}",
                        f"{r['p']:.3g}",
                        f"{p_holm:.3g}",
                        str(r["seeds"]),
                        number(r["wall_s"], 1),
                    ]
                ],
            )
            page.paragraph("In short: ", plain_sentence(r))
            page.end_section()
        page.end_section()
    atomic_write_text(path, page.html())
