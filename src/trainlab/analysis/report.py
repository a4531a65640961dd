"""Self-contained HTML reports: inline CSS, plots embedded as data URIs, no network needed.

:class:`Page` builds a page from headings, paragraphs, tables, lists, images and preformatted
text. Every piece of text given to it is escaped (``html.escape``) by the builder itself, so a
config value, a variant name or a path can never become markup; only :class:`Markup`, which this
module's helpers (:func:`text`, :func:`styled`) make from escaped pieces, goes in as it is.

A small inline script marks ``<body data-images="loaded/total">`` once the page has loaded, so a
headless browser can check that every plot decoded.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path

from ..config import dumps

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; }
pre { background: #f7f7f7; padding: 1em; overflow-x: auto; font-size: 0.85em; }
.sig { color: #0a6; font-weight: 600; } .ns { color: #888; }
.holds { color: #0a6; } .does-not-hold { color: #c22; } .holds-only-when { color: #b70; }
.inconclusive { color: #777; } .verdict { font-weight: 600; }
section { border-top: 1px solid #ddd; padding-top: 0.5em; }
"""

FILTER = """
function applyFilters() {
  var chosen = {};
  document.querySelectorAll("select[data-filter]").forEach(function (s) {
    chosen[s.getAttribute("data-filter")] = s.value;
  });
  document.querySelectorAll("section").forEach(function (sec) {
    var show = Object.keys(chosen).every(function (k) {
      var v = sec.getAttribute("data-" + k);
      return chosen[k] === "all" || v === null || v === chosen[k];
    });
    sec.style.display = show ? "" : "none";
  });
}
// a link can carry the filters: page.html#verdict=holds&lecture=000
new URLSearchParams(window.location.hash.slice(1)).forEach(function (value, key) {
  var select = document.querySelector('select[data-filter="' + key + '"]');
  if (select) { select.value = value; }
});
document.querySelectorAll("select[data-filter]").forEach(function (select) {
  select.addEventListener("change", applyFilters);
});
applyFilters();
"""

CHECK_IMAGES = """
window.addEventListener("load", function () {
  var imgs = Array.from(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute("data-images", ok + "/" + imgs.length);
});
"""


class Markup(str):
    """HTML that :class:`Page` inserts as it is; made by :func:`text` and :func:`styled` only."""


def text(*pieces) -> Markup:
    """The pieces as HTML, joined: a :class:`Markup` as it is, anything else escaped."""
    return Markup("".join(p if isinstance(p, Markup) else html.escape(str(p)) for p in pieces))


def styled(css_class: str, *pieces) -> Markup:
    """``<span class="css_class">pieces</span>``, the pieces escaped as in :func:`text`."""
    return Markup(f'<span class="{html.escape(css_class)}">{text(*pieces)}</span>')


def number(v, digits: int = 4) -> str:
    """``v`` with ``digits`` decimals; an en dash for None or nan."""
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def _cell(v) -> Markup:
    """A table cell's content: floats with 4 decimals, None and nan as a dash, text escaped."""
    return text(number(v) if v is None or isinstance(v, float) else v)


class Page:
    """A self-contained HTML page, built top to bottom; each method appends and returns the page.

    >>> page = Page("trainlab compare").paragraph("3 variants").table(["a", "b"], [[1, 0.5]])
    >>> page.write(Path("report.html"))
    """

    def __init__(self, title: str):
        self.title = title
        self.parts: list[str] = []
        self.scripts: list[str] = [CHECK_IMAGES]  # this module's own code only

    def heading(self, *pieces, level: int = 2) -> Page:
        self.parts.append(f"<h{level}>{text(*pieces)}</h{level}>")
        return self

    def paragraph(self, *pieces) -> Page:
        self.parts.append(f"<p>{text(*pieces)}</p>")
        return self

    def list(self, items) -> Page:
        """A bulleted list; an item is one piece, or a tuple of pieces joined as in :func:`text`."""
        lis = [f"<li>{text(*i) if isinstance(i, tuple) else text(i)}</li>" for i in items]
        self.parts.append(f"<ul>{''.join(lis)}</ul>")
        return self

    def table(self, header: list, rows: list[list]) -> Page:
        """A table; a float cell is shown with 4 decimals (pass :func:`number` for others)."""
        head = "".join(f"<th>{text(h)}</th>" for h in header)
        body = "".join(
            "<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in rows
        )
        self.parts.append(f"<table><tr>{head}</tr>{body}</table>")
        return self

    def image(self, path: Path, alt: str) -> Page:
        """The PNG at ``path``, embedded as a data URI."""
        data = base64.b64encode(Path(path).read_bytes()).decode()
        self.parts.append(f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">')
        return self

    def preformatted(self, content: str) -> Page:
        self.parts.append(f"<pre>{text(content)}</pre>")
        return self

    def section(self, css_class: str = "", **data: str) -> Page:
        """Open a ``<section>`` with a class and ``data-*`` attributes (values escaped), for
        :meth:`filters` to show or hide; :meth:`end_section` closes it."""
        attrs = "".join(f' data-{html.escape(k)}="{html.escape(str(v))}"' for k, v in data.items())
        self.parts.append(f'<section class="{html.escape(css_class)}"{attrs}>')
        return self

    def end_section(self) -> Page:
        self.parts.append("</section>")
        return self

    def filters(self, options: dict[str, list[str]]) -> Page:
        """One drop-down per ``data-*`` attribute name in ``options`` (its values listed, plus
        "all"); choosing a value hides every section that has the attribute with another
        value (sections without it stay). The page's address can carry a choice:
        ``page.html#verdict=holds&lecture=000``."""
        selects = []
        for name, values in options.items():
            opts = "".join(
                f'<option value="{html.escape(v)}">{html.escape(v)}</option>'
                for v in ["all", *values]
            )
            selects.append(
                f'<label>{html.escape(name)} <select data-filter="{html.escape(name)}">'
                f"{opts}</select></label>"
            )
        self.parts.append(f'<p class="filters">{" ".join(selects)}</p>')
        self.scripts.append(FILTER)
        return self

    def html(self) -> str:
        """The whole page: head with inline style, the parts, the image-check script."""
        title = text(self.title)
        return (
            f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{title}</title><style>{STYLE}</style></head>\n"
            f"<body><h1>{title}</h1>\n"
            + "\n".join(self.parts)
            + "".join(f"\n<script>{js}</script>" for js in self.scripts)
            + "</body></html>\n"
        )

    def write(self, path: Path) -> None:
        """Write :meth:`html` to ``path``."""
        Path(path).write_text(self.html())


def _difference(metric, *values: float) -> str:
    """Differences of the metric in words, one unit for all: accuracies in percentage points."""
    if metric.name.endswith("accuracy"):
        return ", ".join(f"{100 * d:.2f}" for d in values) + " percentage points"
    unit = {"epochs_to_target": " epochs", "time_to_target": " s"}.get(metric.name, "")
    return ", ".join(f"{d:.4g}" for d in values) + unit


def _statement(t: dict, metric) -> tuple:
    """One pair of variants in words: which is better, by how much, the test, the verdict."""
    a, b = t["a"], t["b"]
    if math.isnan(t["p"]):
        return (
            styled(
                "ns",
                f"{a} vs {b}: not testable (fewer than 2 seeds with a value on each "
                "side, or no variation)",
            ),
        )
    (lo, hi), t_value = t["ci"], t["t"]
    first, second = a, b  # the interval and t are of first − second
    if t["better"] is None:
        which = f"{a} and {b} have the same mean {metric.label}"
    else:
        worse = b if t["better"] == a else a
        # the interval of the difference the sentence states, positive when it holds: better −
        # worse where higher is better, worse − better (how much lower) where lower is
        first, second = (worse, t["better"]) if metric.lower_is_better else (t["better"], worse)
        if first != a:
            lo, hi, t_value = -hi, -lo, -t_value
        by = (
            f"{'lower' if metric.lower_is_better else 'higher'} {metric.label}, by "
            f"{_difference(metric, abs(t['difference']))}"
        )
        which = (
            f"{t['better']} is better than {worse}: {by}"
            if t["significant"]
            else f"{t['better']} has the better mean than {worse} ({by})"
        )
    test = (
        f"paired t-test on the {t['n_a']} seeds both have"
        if t["test"] == "paired"
        else f"Welch's t-test on {t['n_a']} and {t['n_b']} seeds"
    )
    verdict = (
        styled("sig", "significant")
        if t["significant"]
        else styled("ns", "not significant: these seeds cannot tell them apart")
    )
    return (
        f"{which}; 95% CI of {first} − {second}: [{_difference(metric, lo, hi)}]"
        f"; {test}, t = {t_value:.2f}, p = {t['p']:.3g}, Holm-adjusted p = "
        f"{t['p_holm']:.3g}: ",
        verdict,
        " at the 5% level.",
    )


_DIGITS = {"epochs_to_target": 2, "time_to_target": 3}


def _regression_table(page: Page, rows: list[dict]) -> None:
    """One row per variant of a regression task: test MSE, the baseline's, time, divergence."""
    header = [
        "variant",
        "seeds",
        "test MSE",
        "95% CI ±",
        "baseline MSE (training mean)",
        "best epoch",
        "s / epoch",
        "diverged",
    ]
    page.table(
        header,
        [
            [
                r["variant"],
                r["seeds"],
                r["test_loss_mean"],
                r["test_loss_ci95"],
                r["baseline_test_loss_mean"],
                number(r["best_epoch_mean"], 1),
                number(r["time_per_epoch_s"], 3),
                r["diverged"],
            ]
            for r in rows
        ],
    )


def _results_table(page: Page, rows: list[dict], metric) -> None:
    """One row per variant: the standard columns, then the chosen metric's (if another)."""
    if "baseline_test_loss_mean" in rows[0]:
        return _regression_table(page, rows)
    header = [
        "variant",
        "seeds",
        "test accuracy",
        "95% CI ±",
        "test loss",
        "95% CI ±",
        "best epoch",
        "s / epoch",
        "diverged",
    ]
    extra = metric.name not in ("test_accuracy", "test_loss")  # those columns are there already
    if extra:
        header += [metric.label, "95% CI ±"] + (["reached"] if metric.target is not None else [])
    table = []
    for r in rows:
        cells = [
            r["variant"],
            r["seeds"],
            r["test_accuracy_mean"],
            r["test_accuracy_ci95"],
            r["test_loss_mean"],
            r["test_loss_ci95"],
            number(r["best_epoch_mean"], 1),
            number(r["time_per_epoch_s"], 3),
            r["diverged"],
        ]
        if extra:
            digits = _DIGITS.get(metric.name, 4)
            cells += [
                number(r[f"{metric.name}_mean"], digits),
                number(r[f"{metric.name}_ci95"], digits),
            ]
            cells += [f"{r['reached']} of {r['seeds']}"] if metric.target is not None else []
        table.append(cells)
    page.table(header, table)


def _metric_text(metric) -> str:
    """What the compared metric is, and for target metrics, which seeds count."""
    if metric.target is None:
        return (
            f"Variants are compared on the {metric.label} of each seed "
            f"({'lower' if metric.lower_is_better else 'higher'} is better)."
        )
    first = f"the first epoch whose validation accuracy is at least {metric.target:g}"
    what = (
        f"the number of {first}"
        if metric.name == "epochs_to_target"
        else "the seconds of training and validation until the target is first reached, the "
        f"summed time_s of the epochs up to and including {first}"
    )
    return (
        f"Variants are compared on the {metric.label}: {what} (time-to-result, as MLCommons "
        "AlgoPerf scores training algorithms; lower is better). A seed that never reaches the "
        "target has no value: the column 'reached' says how many of each variant's seeds "
        "did, and the mean, interval and tests use only those seeds."
    )


def compare_report(
    path: Path, rows: list[dict], tests: list[dict], base: dict, seeds: int, metric
) -> None:
    """``trainlab compare``'s page: results table, significance statements, plots, config."""
    out = path.parent
    scored = (
        "Test MSE is the mean squared error on the held-out test split of the epoch "
        "chosen on the validation split; the baseline always predicts the training "
        "targets' mean"
        if "baseline_test_loss_mean" in rows[0]
        else "Test accuracy is the "
        "accuracy on the held-out test split of the epoch chosen on the validation split"
    )
    page = Page("trainlab compare").paragraph(
        f"{len(rows)} variants × {seeds} seeds. {scored}. Intervals are 95% confidence "
        "intervals of the mean across seeds (Student's t with n − 1 degrees of freedom). ",
        _metric_text(metric),
    )
    page.heading("Results")
    _results_table(page, rows, metric)
    page.heading("Which differences are significant").paragraph(
        f"Every pair of variants is compared on the {metric.label}. All variants ran the same "
        "seeds, so the test is a paired t-test on the per-seed differences, over the seeds both "
        "have a value for (Welch's t-test, which does not assume equal variances, when fewer "
        "than two seeds are common). The p-values are corrected for the number of pairs with "
        'Holm\'s method. "Significant" means the adjusted p-value is below 0.05; "not '
        'significant" means these seeds cannot tell the variants apart, not that they are '
        "equal. The interval is the 95% confidence interval of the mean difference, for that pair "
        "alone (not adjusted for the number of pairs)."
    )
    page.list([_statement(t, metric) for t in tests] or ["Only one variant: nothing to compare."])
    page.heading("Learning curves").paragraph(
        "Mean across seeds; the band is the 95% confidence interval."
    )
    page.image(out / "curves.png", "learning curves")
    page.heading(f"{metric.label.capitalize()} per variant")
    page.image(out / "final.png", f"{metric.label} per variant")
    page.heading("Configuration").paragraph(
        "Every run uses this config, with the variant's values on top and seeds "
        f"{base['seed']}–{base['seed'] + seeds - 1}."
    )
    page.preformatted(dumps(base))
    page.write(path)
