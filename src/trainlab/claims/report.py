"""The claims' reports: ``claims.html`` (one self-contained page, grouped by lecture deck under its
title, the verdict counts at the top, filters by verdict and lecture, and per claim its
statement, source, what was run, plot, statistic, verdict and one plain sentence) and
``claims.md`` (the verdict table that README.md shows). Text taken from docstrings is shown
without its reST markup (:func:`plain_text`)."""

from __future__ import annotations

import inspect
import re
from collections import Counter
from pathlib import Path

from ..analysis.report import Page, number, styled
from ..runs.atomic import atomic_write_text
from .claim import Claim
from .verdicts import ALPHA, Kind

#: The verdict kinds, in the order the summary shows them.
KINDS = tuple(str(k) for k in Kind)


def kind(verdict: str) -> str:
    """The verdict's kind (an older record's ``holds only when <condition>`` -> ``holds only
    when``)."""
    return "holds only when" if verdict.startswith("holds only") else verdict


#: The decks' titles (their first lines; ``shared/seeds/README.md``), by file prefix.
TITLES = {
    "000": "Neural Networks: Optimization Part 2",
    "001": "Training Neural Networks (6.036)",
    "002": "Lecture 7: Training deep neural networks",
    "003": "Advanced Training Techniques",
    "004": "Deep Learning for Graphics, training part",
}


def lecture_title(lecture: str) -> str:
    """The deck's title and its number, e.g. ``Neural Networks: Optimization Part 2 (lecture
    000)``, for a seed file name such as ``000_c258a766373167ad.txt``."""
    prefix = lecture[:3]
    return f"{TITLES[prefix]} (lecture {prefix})" if prefix in TITLES else lecture


_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`(~?)([^`<]*?)(?:\s*<([^`>]*)>)?`")
_LITERAL = re.compile(r"``(.+?)``")
_INTERPRETED = re.compile(r"(?<![`\w])`([^`]+)`(?!`)_?")


def _role(m: re.Match) -> str:
    short, target, link = m.group(1), m.group(2).strip(), m.group(3)
    if link:  # :func:`text <target>`: the text
        return target
    return target.rsplit(".", 1)[-1] if short else target


def plain_text(text: str) -> str:
    """``text`` without reST markup, for readers: roles such as :func:`a.b` become ``a.b``
    (``~a.b.c`` its last part ``c``, ``title <target>`` its title), double-backquoted literals
    and single-backquoted text lose their quotes."""
    text = _ROLE.sub(_role, text)
    text = _LITERAL.sub(r"\1", text)
    return _INTERPRETED.sub(r"\1", text)


def summary_counts(rows: list[dict]) -> dict[str, int]:
    """How many claims reached each verdict kind."""
    counts = Counter(kind(r["verdict"]) for r in rows)
    return {k: counts.get(k, 0) for k in KINDS}


def label(r: dict) -> str:
    """The row's verdict with its condition (``holds only when the method is ...``)."""
    return f"{r['verdict']} {r.get('condition') or ''}".strip()


def _g(x) -> str:
    return "" if x is None else f"{x:.3g}"


def _ci(r: dict) -> str:
    return f"{_g(r['estimate'])} [{_g(r['ci'][0])}, {_g(r['ci'][1])}]"


def _changed(r: dict) -> str:
    if not r.get("other_seed_sets"):
        return ""
    others = ", ".join(f"offset {k}: {v}" for k, v in sorted(r["other_seed_sets"].items()))
    return f" (verdict changed between seed sets: {others})" if r.get("verdict_changed") else ""


def _control(r: dict) -> str:
    if not r.get("expected_verdict"):
        return ""
    expected = " or ".join(r["expected_verdict"])
    if r.get("control_failed"):
        return f" CONTROL FAILED: expected {expected}"
    return f" (control: expected {expected}, as it came out)"


def _delta(r: dict) -> str:
    return "none declared" if r.get("delta") is None else f"{r['delta']:g}"


def arms_text(r: dict) -> list[str]:
    """One line per tuned arm: its keyword, the grid tried, the choice, and whether the choice
    is at the grid's edge."""
    out = []
    for arm, a in (r.get("arms") or {}).items():
        grid = ", ".join(f"{v:g}" for v in a["grid"])
        edge = " AT THE GRID'S EDGE" if a["at_edge"] else ""
        out.append(
            f"{arm}: {a['keyword']} = {a['chosen']:g} chosen from [{grid}] "
            f"on {a['tuned_on']} ({a['tuning_seeds']} tuning seeds){edge}"
        )
    return out


def _seeds_text(r: dict) -> str:
    text = f"{r['seeds']} seeds"
    if r.get("pilot_sd") is not None and r.get("delta"):
        text += (
            f" (power calculation: per-seed sd {r['pilot_sd']:.3g} in a pilot of "
            f"{r.get('pilot_seeds')} seeds, 80% power at delta)"
        )
    if r.get("underpowered"):
        text += "; UNDERPOWERED: the power calculation asked for more than the cap"
    return text


def _history_text(r: dict) -> list[str]:
    return [
        f"earlier rule or setup, verdict '{h.get('verdict', '?')}': {h.get('changed', '')} "
        f"(changed because {h.get('reason', '')})"
        for h in r.get("history") or []
    ]


def write_markdown(path: Path, rows: list[dict], header: str = "") -> None:
    """The verdicts as Markdown: the summary table (claim, deck and slide, kind, verdict,
    estimate [95% CI], the smallest effect of interest, the deciding test's p before and after
    Holm), then per claim the deck's words beside what was measured: quote, operationalization,
    metric, tuned arms, seeds, verdict and any earlier verdict."""
    counts = ", ".join(f"{n} {k}" for k, n in summary_counts(rows).items())
    failed = [r["id"] for r in rows if r.get("control_failed")]
    lines = [header, ""] if header else []
    lines += [
        f"{len(rows)} claims: {counts}."
        + (f" CONTROL FAILED: {', '.join(failed)}." if failed else ""),
        "",
        "| claim | deck, slide | kind | verdict | estimate [95% CI] | delta | p | p (Holm) |",
        "|---|---|---|---|---|---|---:|---:|",
    ]
    for r in rows:
        verdict = label(r) + (" (changed between seed sets)" if r.get("verdict_changed") else "")
        verdict += _control(r)
        lines.append(
            f"| [`{r['id']}`](#{r['id']}) | {TITLES.get(r['lecture'][:3], r['lecture'])}, "
            f"{r['slide']} | {r.get('kind', '')} | {verdict} | {_ci(r)} | {_delta(r)} "
            f"| {_g(r['p'])} | {_g(r.get('p_holm'))} |"
        )
    for r in rows:
        lines += ["", f"### {r['id']}", ""]
        source = f"{lecture_title(r['lecture'])}, {r['slide']}"
        if r.get("paper"):
            source += f"; the deck cites {r['paper']}"
        lines += [f"> {plain_text(r.get('quote') or '')}", ">", f"> ({source})", ""]
        lines.append(f"- **Claim**: {plain_text(r['statement'])}")
        lines.append(f"- **Measured**: {plain_text(r.get('operationalization') or '')}")
        lines.append(
            f"- **Kind**: {r.get('kind', '')}; **metric**: {r.get('primary_metric', '')}; "
            f"**direction**: {r.get('direction', '')}; **delta**: {_delta(r)}"
            + (f" ({r['delta_reason']})" if r.get("delta_reason") else "")
        )
        for line in arms_text(r):
            lines.append(f"- **Tuned arm** {line}")
        lines.append(f"- **Seeds**: {_seeds_text(r)}")
        lines.append(
            f"- **Verdict**: {label(r)}{_control(r)}: {plain_text(r['sentence'])} "
            f"(p = {_g(r['p'])}, Holm-adjusted {_g(r.get('p_holm'))} over "
            f"{r.get('family_size', 1)} claims of family '{r.get('family', '')}')"
        )
        for line in _history_text(r):
            lines.append(f"- **Kept on record**: {line}")
        lines.append(f"- **Plot**: [{r['id']}.png]({r['id']}.png)")
    atomic_write_text(path, "\n".join(lines) + "\n")


LEADS = {
    "holds": "The measurements support the claim",
    "holds only when": "The claim holds only under the condition stated",
    "does not hold": "The measurements contradict the claim",
    "inconclusive": "These seeds cannot decide the claim either way",
}


def plain_sentence(r: dict) -> str:
    """One sentence: what the verdict means, then what was found."""
    return f"{LEADS[kind(r['verdict'])]}: {plain_text(r['sentence'])}."


def _what_ran(claim: Claim) -> str:
    """The measuring function's docstring (without reST markup) and its parameters."""
    doc = plain_text(inspect.getdoc(claim.measure) or claim.measure.__name__)
    params = ", ".join(f"{k} = {v}" for k, v in claim.params.items())
    return f"{' '.join(doc.split())} Parameters: {params or 'none'}."


def write_html(path: Path, rows: list[dict], claims: list[Claim], plots: Path) -> None:
    """``claims.html``: the verdict summary, the filters, then one section per lecture with one
    per claim (its plot ``plots/<id>.png`` embedded)."""
    by_id = {c.id: c for c in claims}
    lectures = sorted({r["lecture"] for r in rows})
    page = Page("trainlab claims: what the lectures claim, measured")
    counts = summary_counts(rows)
    failed = [r["id"] for r in rows if r.get("control_failed")]
    if failed:
        page.paragraph(styled("verdict does-not-hold", f"CONTROL FAILED: {', '.join(failed)}"))
    changed = [r["id"] for r in rows if r.get("verdict_changed")]
    page.paragraph(
        f"{len(rows)} claims. ",
        *[styled(k.replace(" ", "-"), f"{n} {k}; ") for k, n in counts.items()],
        f"{len(changed)} changed verdict between seed sets"
        + (f": {', '.join(changed)}." if changed else "."),
    )
    page.table(["verdict", "claims"], [[k, str(n)] for k, n in counts.items()])
    page.paragraph(
        f"Every verdict is decided by one-sided t-tests at {ALPHA} (the 95% interval lies on "
        "one side of 0 or of the smallest effect of interest, delta), and Holm's correction "
        "within each family of claims; see docs/claims.md for the rules."
    )
    page.filters({"verdict": list(KINDS), "lecture": [lec[:3] for lec in lectures]})
    for lecture in lectures:
        page.section("lecture", lecture=lecture[:3]).heading(lecture_title(lecture))
        for r in (r for r in rows if r["lecture"] == lecture):
            claim = by_id[r["id"]]
            verdict_class = kind(r["verdict"]).replace(" ", "-")
            page.section("claim", lecture=lecture[:3], verdict=kind(r["verdict"]))
            page.heading(r["id"], level=3)
            page.paragraph(styled("verdict " + verdict_class, label(r)), _changed(r), _control(r))
            said = f"\u201c{plain_text(r.get('quote') or '')}\u201d ({lecture_title(lecture)}, "
            said += f"{r['slide']}" + (f"; the deck cites {r['paper']}" if r.get("paper") else "")
            said += f"). In trainlab's words: {plain_text(r['statement'])}"
            measured = [
                plain_text(r.get("operationalization") or _what_ran(claim)),
                f"Kind: {r.get('kind', '')}. Metric: {r.get('primary_metric', '')} "
                f"({r.get('direction', '')}); delta {_delta(r)}"
                + (f": {r['delta_reason']}" if r.get("delta_reason") else "")
                + f". {_seeds_text(r)}.",
                *[f"Tuned: {line}." for line in arms_text(r)],
            ]
            page.table(
                ["The deck says", "What trainlab measured", "Verdict"],
                [[said, " ".join(measured), f"{label(r)}: {plain_text(r['sentence'])}"]],
            )
            for line in _history_text(r):
                page.paragraph("Kept on record: ", line)
            if r.get("note"):
                page.paragraph("Note on the setup: ", plain_text(r["note"]))
            image = plots / f"{r['id']}.png"
            if image.is_file():
                page.image(image, f"plot for {r['id']}")
            page.table(
                [
                    "statistic",
                    "estimate",
                    "95% CI",
                    "delta",
                    "decided by",
                    "p",
                    f"p (Holm, {r.get('family_size', 1)} in '{r.get('family', '')}')",
                    "seeds",
                    "seconds",
                ],
                [
                    [
                        r["statistic"],
                        number(r["estimate"], 4),
                        f"{r['ci'][0]:.4g} to {r['ci'][1]:.4g}",
                        _delta(r),
                        r["decided_by"]["test"],
                        f"{r['p']:.3g}",
                        _g(r.get("p_holm")),
                        str(r["seeds"]),
                        number(r["wall_s"], 1),
                    ]
                ],
            )
            page.paragraph("In short: ", plain_sentence(r))
            page.end_section()
        page.end_section()
    atomic_write_text(path, page.html())
