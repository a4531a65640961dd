"""claims.html in headless Chromium (no console errors, plots decode, the filters hide what they
should), the decks named by their titles and no reST markup shown, claims.md, the seed-set
comparison and --lecture."""

import json
import shutil
import subprocess
import tempfile

import pytest

from trainlab.claims import all_claims
from trainlab.claims.report import lecture_title, plain_text
from trainlab.claims.runner import run, select
from trainlab.cli import main

CHEAP = "minibatch-variance-1-over-b,zero-init-symmetry"


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    folder = tmp_path_factory.mktemp("claims-report")
    run(select(all_claims(), CHEAP, None, False), folder, jobs=1)
    return folder


def _chromium(page: str) -> subprocess.CompletedProcess:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (.ci/run installs it)")
    return subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            f"--user-data-dir={tempfile.mkdtemp()}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            page,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.multiprocess
def test_html_opens_without_console_errors(out):
    html = (out / "claims.html").read_text()
    assert "http" not in html.replace("http-equiv", "")  # self-contained
    assert html.count('<section class="claim"') == 2 and "2 holds" in html
    dom = _chromium((out / "claims.html").as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert console == []
    assert 'data-images="2/2"' in dom.stdout


@pytest.mark.slow
def test_filters_hide_other_lectures(out):
    dom = _chromium((out / "claims.html").as_uri() + "#lecture=001")
    assert dom.returncode == 0, dom.stderr[-2000:]
    sections = [s for s in dom.stdout.split("<section")[1:] if 'class="claim"' in s]
    hidden = {('data-lecture="000"' in s, "display: none" in s.split(">", 1)[0]) for s in sections}
    assert hidden == {(True, True), (False, False)}  # lecture 000's claim hidden, 001's shown


@pytest.mark.slow
def test_markdown_table(out):
    md = (out / "claims.md").read_text().splitlines()
    assert md[0] == "2 claims: 2 holds, 0 holds only when, 0 does not hold, 0 inconclusive."
    assert md[2].startswith("| claim | deck, slide | kind | verdict")
    row = next(line for line in md if line.startswith("| [`minibatch-variance-1-over-b`]"))
    assert "Neural Networks: Optimization Part 2" in row and "| exact | holds |" in row
    # each claim's section puts the deck's words (verbatim, quoted) beside what was measured
    section = md[md.index("### minibatch-variance-1-over-b") :]
    assert section[2].startswith("> ") and len(section[2]) > 10
    assert any(line.startswith("- **Measured**: ") and len(line) > 40 for line in section)
    assert any(line.startswith("- **Verdict**: holds") for line in section)


@pytest.mark.slow
def test_second_seed_set_is_compared(out):
    rows = run(
        select(all_claims(), "gd-diverges-above-2-over-lambda", None, False), out, seeds=3, jobs=1
    )
    rows = run(
        select(all_claims(), "gd-diverges-above-2-over-lambda", None, False),
        out,
        seeds=3,
        offset=1000,
        jobs=1,
    )
    assert rows[0]["other_seed_sets"] in ({0: "holds"}, {"0": "holds"})
    assert rows[0]["verdict_changed"] is False
    recorded = json.loads((out / "seed-sets" / "offset-1000.json").read_text())
    assert recorded["gd-diverges-above-2-over-lambda"]["digest"] == rows[0]["digest"]
    assert rows[0]["wall_s"] > 0  # timed inside the worker


def test_lecture_selects_its_claims(capsys):
    assert main(["claims", "--list", "--lecture", "001"]) == 0
    listed = capsys.readouterr().out
    assert "zero-init-symmetry" in listed and "newton-one-step" not in listed
    assert main(["claims", "--list", "--lecture", "009"]) == 2
    assert "--lecture '009': no claim cites it" in capsys.readouterr().err


def test_html_names_decks_by_title_and_shows_no_rest_markup(out):
    html = (out / "claims.html").read_text()
    assert "Neural Networks: Optimization Part 2 (lecture 000)</h2>" in html
    assert "000_c258a766373167ad.txt</h2>" not in html
    assert "``" not in html and ":func:" not in html and ":class:" not in html


def test_plain_text_against_hand_written_strings():
    assert plain_text("set ``optimizer.name`` to sgd") == "set optimizer.name to sgd"
    assert plain_text("by :func:`trainlab.api.train`.") == "by trainlab.api.train."
    assert plain_text("a :class:`~trainlab.training.step.Step`") == "a Step"
    assert plain_text(":meth:`Claim.digest` and :mod:`trainlab.models.rnn`") == (
        "Claim.digest and trainlab.models.rnn"
    )
    assert plain_text("see :func:`the loop <trainlab.training.loop.fit>`") == "see the loop"
    assert plain_text("plain text, no markup: 1/sqrt(n)") == "plain text, no markup: 1/sqrt(n)"
    assert lecture_title("003_4f959921065895eb.txt") == "Advanced Training Techniques (lecture 003)"
    assert lecture_title("controls") == "controls"
