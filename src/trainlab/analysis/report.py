"""Self-contained HTML reports: inline CSS, plots embedded as data URIs, no network needed.

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
"""

CHECK_IMAGES = """
window.addEventListener("load", function () {
  var imgs = Array.from(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute("data-images", ok + "/" + imgs.length);
});
"""


def image(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _num(v, digits: int = 4) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n"
            f"<body><h1>{html.escape(title)}</h1>\n{body}\n<script>{CHECK_IMAGES}</script>"
            f"</body></html>\n")


def compare_report(path: Path, rows: list[dict], tests: list[dict], base: dict, grid: list[dict],
                   seeds: int) -> None:
    out = path.parent
    table = ["<table><tr><th>variant</th><th>seeds</th><th>test accuracy</th><th>95% CI ±</th>"
             "<th>test loss</th><th>95% CI ±</th><th>best epoch</th><th>s / epoch</th>"
             "<th>diverged</th></tr>"]
    for r in rows:
        table.append(f"<tr><td>{html.escape(r['variant'])}</td><td>{r['seeds']}</td>"
                     f"<td>{_num(r['test_accuracy_mean'])}</td><td>{_num(r['test_accuracy_ci95'])}</td>"
                     f"<td>{_num(r['test_loss_mean'])}</td><td>{_num(r['test_loss_ci95'])}</td>"
                     f"<td>{_num(r['best_epoch_mean'], 1)}</td><td>{_num(r['time_per_epoch_s'], 3)}</td>"
                     f"<td>{r['diverged']}</td></tr>")
    table.append("</table>")
    statements = []
    for t in tests:
        if math.isnan(t["p"]):
            statements.append(f"<li class=\"ns\">{html.escape(t['a'])} vs {html.escape(t['b'])}: "
                              "not testable (fewer than 2 seeds each, or no variation)</li>")
            continue
        verdict = ("<span class=\"sig\">significant</span>" if t["significant"]
                   else "<span class=\"ns\">not significant</span>")
        statements.append(
            f"<li>{html.escape(t['a'])} vs {html.escape(t['b'])}: mean test accuracy differs by "
            f"{100 * t['difference']:+.2f} points; Welch's t = {t['t']:.2f}, p = {t['p']:.3g}, "
            f"Holm-adjusted p = {t['p_holm']:.3g}: {verdict} at the 5% level.</li>")
    body = f"""
<p>{len(grid)} variants × {seeds} seeds. Test accuracy is the accuracy on the held-out test
split of the epoch chosen on the validation split. Intervals are 95% confidence intervals of the
mean across seeds (Student's t with n − 1 degrees of freedom).</p>
<h2>Results</h2>
{''.join(table)}
<h2>Which differences are significant</h2>
<p>Every pair of variants is compared with Welch's t-test on the per-seed test accuracies (it
does not assume equal variances), and the p-values are corrected for the number of pairs with
Holm's method. "Significant" means the adjusted p-value is below 0.05; "not significant" means
these seeds cannot tell the variants apart, not that they are equal.</p>
<ul>{''.join(statements) or '<li>Only one variant: nothing to compare.</li>'}</ul>
<h2>Learning curves</h2>
<p>Mean across seeds; the band is the 95% confidence interval.</p>
{image(out / 'curves.png', 'learning curves')}
<h2>Final test accuracy</h2>
{image(out / 'final.png', 'final test accuracy per variant')}
<h2>Configuration</h2>
<p>Every run uses this config, with the variant's values on top and seeds
{base['seed']}–{base['seed'] + seeds - 1}.</p>
<pre>{html.escape(dumps(base))}</pre>
"""
    path.write_text(page("trainlab compare", body))
