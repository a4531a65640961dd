"""Every figure trainlab writes, rendered on tiny runs and read back from matplotlib itself: no
text drawn outside the figure, every arm or optimizer of the run in the legend, integer ticks on
epochs, log axes in plain numbers, the same look for a name in every figure; and the commands'
last line names the file to open."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from matplotlib.collections import PathCollection
from matplotlib.text import Text

from trainlab.analysis import style
from trainlab.cli import main
from trainlab.distributed.record import Record, plot as plot_distributed
from trainlab.experiments.search import write_results
from trainlab.experiments.trajectories import OVERLAY

from tests.conftest import FAST


def drawn_texts(fig) -> list[Text]:
    """The text artists matplotlib actually draws for ``fig`` (tick labels of ticks in view,
    titles, labels, legend entries, colour bar labels), non-empty ones only."""
    drawn = []
    original = Text.draw

    def draw(self, renderer):
        original(self, renderer)
        if self.get_visible() and self.get_text().strip():
            drawn.append(self)

    Text.draw = draw
    try:
        fig.canvas.draw()
    finally:
        Text.draw = original
    return drawn


def clipped(fig) -> list[str]:
    """The drawn texts whose window extent is not inside the figure (1 pixel of slack)."""
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    out = []
    for t in drawn_texts(fig):
        e = t.get_window_extent(renderer)
        if e.x0 < box.x0 - 1 or e.y0 < box.y0 - 1 or e.x1 > box.x1 + 1 or e.y1 > box.y1 + 1:
            out.append(t.get_text())
    return out


def legend_texts(fig) -> list[str]:
    """Every legend entry of ``fig``: figure legends and axes legends."""
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    return [t.get_text() for legend in legends for t in legend.get_texts()]


def check(fig, names=()) -> None:
    """No text outside the figure, each of ``names`` starts a legend entry, and no log axis
    labelled in mathtext (2x10^0)."""
    assert clipped(fig) == []
    entries = legend_texts(fig)
    for name in names:
        assert any(e.startswith(name) for e in entries), (name, entries)
    for t in drawn_texts(fig):
        assert "$" not in t.get_text() and "times" not in t.get_text(), t.get_text()


@pytest.fixture
def saved(monkeypatch):
    """Every figure written through style.save, by file name."""
    figures = {}
    original = style.save

    def save(fig, path):
        figures[Path(path).name] = fig
        return original(fig, path)

    monkeypatch.setattr(style, "save", save)
    return figures


def _last_line(capsys) -> str:
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_the_check_finds_clipped_text_and_missing_names():
    fig, ax = style.figure(4, 3)
    ax.plot([1, 2], [1, 2], label="sgd")
    style.legend(ax)
    check(fig, ["sgd"])
    with pytest.raises(AssertionError):
        check(fig, ["adam"])
    fig.text(0.98, 0.5, "a label that runs off the right edge")
    assert clipped(fig) == ["a label that runs off the right edge"]
    fig, ax = style.figure(4, 3)
    ax.set_yscale("log")  # matplotlib's own labels: 10^0 in mathtext
    ax.set_ylim(1.5, 3)
    with pytest.raises(AssertionError):
        check(fig)
    check(style.tidy(fig))
    assert any(t.get_text() == "2" for t in drawn_texts(fig))


def test_looks_are_fixed_by_the_order_and_distinct():
    order = [f"opt{i}" for i in range(13)]
    every = style.looks(order)
    assert len({(k.color, k.linestyle, k.marker) for k in every.values()}) == 13
    assert every["opt0"].color == every["opt10"].color and every["opt10"].linestyle == "--"
    assert style.looks(["opt12", "opt3"], order=order) == {
        "opt12": every["opt12"],
        "opt3": every["opt3"],
    }
    assert list(style.looks(["b", "a"])) == ["b", "a"]
    assert [style.plain_number(v) for v in (0.02, 200, 1e-6, 3e7)] == ["0.02", "200", "1e-6", "3e7"]


def test_trajectories_panels_and_overlay(tmp_path, capsys, saved):
    out = tmp_path / "tj"
    argv = ["trajectories", "--optimizers", "sgd,momentum,adam,diag_newton", "--steps", "30"]
    assert main([*argv, "--only", "sgd,diag_newton", "--no-gif", "--out", str(out)]) == 0
    assert _last_line(capsys) == f"open: {out / 'trajectories_panels.png'}"
    overlay, panels = saved["trajectories.png"], saved["trajectories_panels.png"]
    check(overlay, ["sgd", "diag_newton"])
    assert not any(e.startswith("adam") for e in legend_texts(overlay))  # only those asked
    check(panels)
    titles = [ax.get_title() for ax in panels.axes if ax.get_visible()]
    names = [t.split(",")[0] for t in titles]
    assert names == ["sgd", "momentum", "adam", "diag_newton"]
    assert "left the view at step 1" in titles[3]  # it jumps to x = -13
    assert all("ends at (" in t for t in titles)

    def colour(fig, name):
        (line,) = [ln for ax in fig.axes for ln in ax.get_lines() if ln.get_label() == name]
        return line.get_color()

    assert colour(overlay, "diag_newton") == colour(panels, "diag_newton")
    assert colour(overlay, "sgd") != colour(overlay, "diag_newton")
    assert main([*argv, "--only", "rprop", "--out", str(tmp_path / "x")]) == 2
    assert "--only" in capsys.readouterr().err
    assert set(OVERLAY) <= {"sgd", "momentum", "rmsprop", "adam"}


def test_compare_figures(tmp_path, capsys, saved):
    out = tmp_path / "cmp"
    variants = ["optimizer.name=sgd", "optimizer.name=adam", "optimizer.name=momentum"]
    argv = [*FAST, "train.epochs=3", "--vary", "optimizer.name=sgd,adam,momentum"]
    assert main(["compare", *argv, "--seeds", "1", "--jobs", "1", "--out", str(out)]) == 0
    assert _last_line(capsys) == f"open: {out / 'report.html'}"
    curves, final = saved["curves.png"], saved["final.png"]
    check(curves, variants)
    check(final)
    assert [t.get_text() for t in final.axes[0].get_xticklabels()] == variants
    for ax in curves.axes:
        ticks = [t for t in ax.get_xticks() if 1 <= t <= 3]
        assert ticks == [1, 2, 3]  # whole epochs
    loss = curves.axes[0]
    assert loss.get_yscale() == "log"
    labels = [t.get_text() for t in drawn_texts(curves) if t.axes is loss]
    assert labels and all("e" not in s or s[0].isdigit() for s in labels)
    # the same variant, the same colour in both figures
    line = next(ln for ln in loss.get_lines() if ln.get_label() == variants[1])
    seeds = [c for c in final.axes[0].collections if isinstance(c, PathCollection)]
    dots = seeds[1]  # the second variant's seeds
    assert tuple(dots.get_facecolor()[0][:3]) == pytest.approx(
        tuple(int(line.get_color()[i : i + 2], 16) / 255 for i in (1, 3, 5))
    )


def test_lr_find_and_diagnose(tmp_path, capsys, saved, fast_run):
    out = tmp_path / "lr"
    assert main(["lr-find", *FAST, "--steps", "20", "--out", str(out)]) == 0
    assert _last_line(capsys) == f"open: {out / 'lr_find.png'}"
    check(saved["lr_find.png"], ["loss", "smoothed loss", "suggested lr"])
    out = tmp_path / "halving"
    assert main(["lr-find", "--method", "halving", *FAST, "--steps", "5", "--out", str(out)]) == 0
    assert _last_line(capsys) == f"open: {out / 'lr_halving.png'}"
    check(saved["lr_halving.png"])
    _, run = fast_run("diagnostics=true", "train.epochs=2")
    assert main(["diagnose", str(run), "--out", str(tmp_path / "dg")]) == 0
    assert _last_line(capsys) == f"open: {tmp_path / 'dg' / 'diagnostics.png'}"
    fig = saved["diagnostics.png"]
    check(fig)
    rows = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert rows == ["layer 1 (Linear)", "layer 2 (Linear)"]  # FAST: one hidden layer
    activations = [t.get_text() for t in fig.axes[3].get_yticklabels()]
    assert activations == ["layer 1 (ReLU)"]


def test_distributed_and_search_figures(tmp_path, saved):
    record = Record(3)
    for _ in range(2):
        for w, s in [(0, 0), (1, 1), (2, 3), (0, 2)]:
            record.gradient(w, s)
        record.end_epoch(0.1)
    record.lost = [2]
    fig = plot_distributed(record, tmp_path / "distributed.png")
    check(fig, ["worker 0", "worker 1", "worker 2 (lost)"])
    trials = [
        SimpleNamespace(
            number=i,
            state=SimpleNamespace(name="COMPLETE"),
            value=v,
            params={"optimizer.lr": json.dumps(lr)},
        )
        for i, (lr, v) in enumerate([(0.01, 0.8), (0.1, 0.9), (1.0, 0.5)])
    ]
    fig = write_results(
        tmp_path, SimpleNamespace(trials=trials), [("optimizer.lr", [0.01, 0.1, 1.0])], "val_acc"
    )
    check(fig)
    assert set(saved) == {"distributed.png", "search.png"}


def test_claims_figures(tmp_path, capsys, saved):
    out = tmp_path / "claims"
    argv = ["claims", "--only", "mse-sigmoid-saturates,nesterov-faster-quadratic", "--seeds", "1"]
    assert main([*argv, "--jobs", "1", "--out", str(out)]) == 0
    assert _last_line(capsys) == f"open: {out / 'claims.html'}"
    assert set(saved) == {"mse-sigmoid-saturates.png", "nesterov-faster-quadratic.png"}
    check(saved["mse-sigmoid-saturates.png"], ["cross-entropy", "squared error"])
    check(saved["nesterov-faster-quadratic.png"], ["one seed", "mean"])
    for r in json.loads((out / "claims.json").read_text()):
        assert saved[f"{r['id']}.png"].axes[0].get_title().startswith(r["id"])
