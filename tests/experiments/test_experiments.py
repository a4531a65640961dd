"""compare, trajectories, the statistics and the HTML report."""

import csv
import json
import math
import shutil
import subprocess
import tempfile

import numpy as np
import pytest
import torch
from scipy import stats as sps

from trainlab import build
from trainlab.analysis import stats
from trainlab.analysis.report import Page, styled
from trainlab.cli import main
from trainlab.errors import UserError
from trainlab.experiments import compare, trajectories
from trainlab.experiments.grid import parse_vary, split_values

from tests.conftest import FAST


def test_confidence_interval_by_hand():
    # 1..5: mean 3, s = sqrt(2.5), t_{0.975, 4} = 2.776445 (tables): half-width 1.96293
    mean, half = stats.mean_ci([1, 2, 3, 4, 5])
    assert mean == 3 and half == pytest.approx(2.776445 * math.sqrt(2.5) / math.sqrt(5), rel=1e-6)
    assert math.isnan(stats.mean_ci([0.9])[1])


def test_welch_statistic_by_hand_and_holm():
    a, b = [0.90, 0.92, 0.91, 0.93], [0.85, 0.88, 0.86, 0.90, 0.84]
    t, p = stats.welch(a, b)
    va, vb = np.var(a, ddof=1) / 4, np.var(b, ddof=1) / 5
    assert t == pytest.approx((np.mean(a) - np.mean(b)) / math.sqrt(va + vb))
    assert 0 < p < 0.01
    assert p == pytest.approx(sps.ttest_ind(a, b, equal_var=False).pvalue)
    # Holm: sorted 0.01 * 3, 0.03 * 2, 0.04 * 1 -> 0.03, 0.06, max(0.06, 0.04)
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def test_paired_t_test_against_scipy_and_a_literal():
    a, b = [0.91, 0.88, 0.93, 0.90], [0.90, 0.86, 0.90, 0.84]
    # d = 0.01, 0.02, 0.03, 0.06: mean 0.03, s^2 = 0.0014 / 3, t = 0.03 / (s / 2) = 2.77746,
    # two-sided p with 3 degrees of freedom (closed form of the t CDF for 3 dof) = 0.0691369
    t, p = stats.paired(a, b)
    assert t == pytest.approx(0.03 / (math.sqrt(0.0014 / 3) / 2))
    assert p == pytest.approx(0.06913686926442875, rel=1e-9)
    reference = sps.ttest_rel(a, b)
    assert (t, p) == pytest.approx((reference.statistic, reference.pvalue), rel=1e-12)
    assert math.isnan(stats.paired([1, 2], [0, 1])[1])  # the differences do not vary


def test_confidence_intervals_of_a_mean_difference_by_hand():
    a, b = [0.91, 0.88, 0.93, 0.90], [0.90, 0.86, 0.90, 0.84]
    r = stats.contrast(dict(enumerate(a)), dict(enumerate(b)))
    # paired: 0.03 +- t_{0.975, 3} * s_d / sqrt(4), t_{0.975, 3} = 3.182446305 (tables)
    half = 3.182446305284263 * math.sqrt(0.0014 / 3) / 2
    assert r["test"] == "paired" and r["n_a"] == r["n_b"] == 4
    assert r["difference"] == pytest.approx(0.03)
    assert r["ci"] == pytest.approx((0.03 - half, 0.03 + half), rel=1e-9)
    # Welch: v = s^2 / n per side, nu = (va + vb)^2 / (va^2 / 3 + vb^2 / 4)
    a, b = [0.90, 0.92, 0.91, 0.93], [0.85, 0.88, 0.86, 0.90, 0.84]
    va, vb = 0.0005 / 3 / 4, 0.00232 / 4 / 5  # sums of squared deviations 0.0005 and 0.00232
    nu = (va + vb) ** 2 / (va**2 / 3 + vb**2 / 4)
    diff = 0.915 - 0.866
    half = sps.t.ppf(0.975, nu) * math.sqrt(va + vb)
    r = stats.contrast(a, b)
    assert r["test"] == "welch" and (r["n_a"], r["n_b"]) == (4, 5)
    assert r["ci"] == pytest.approx((diff - half, diff + half), rel=1e-9)
    ci = sps.ttest_ind(a, b, equal_var=False).confidence_interval()
    assert r["ci"] == pytest.approx((ci.low, ci.high), rel=1e-9)


def test_pairwise_names_its_test_and_the_better_variant():
    paired = stats.pairwise(
        {"x": {0: 1.0, 1: 2.0, 2: 3.5}, "y": {0: 2.0, 1: 3.0, 2: 4.0}}, higher_is_better=False
    )
    assert paired[0]["test"] == "paired" and paired[0]["better"] == "x"  # lower is better
    assert paired[0]["difference"] == pytest.approx(-0.5 / 3 - 2 / 3)
    welch = stats.pairwise({"x": [1.0, 2.0, 3.5], "y": [2.0, 3.0, 4.0]})
    assert welch[0]["test"] == "welch" and welch[0]["better"] == "y"
    # seeds in common: 1 only, so not paired; Welch on all values
    few = stats.pairwise({"x": {0: 1.0, 1: 2.0, 2: 3.0}, "y": {2: 3.0, 3: 5.0, 4: 6.0}})
    assert few[0]["test"] == "welch" and few[0]["n_b"] == 3


def test_vary_parsing():
    assert split_values("sgd,adam") == ["sgd", "adam"]
    assert split_values("[64,64],[128]") == ["[64,64]", "[128]"]
    grid = parse_vary(
        ["optimizer.name=sgd,adam", "model.hidden=[8],[8,8]"], None, ["model.name=mlp"]
    )
    assert grid == [
        {"optimizer.name": "sgd", "model.hidden": [8]},
        {"optimizer.name": "sgd", "model.hidden": [8, 8]},
        {"optimizer.name": "adam", "model.hidden": [8]},
        {"optimizer.name": "adam", "model.hidden": [8, 8]},
    ]
    for bad, message in [
        ("optimizr.name=sgd", "did you mean optimizer.name"),
        ("optimizer.name=", "empty"),
        ("optimizer.name=sgd,sgd", "repeated"),
        ("optimizer.lr=0.1,-1", "optimizer.lr = -1"),
        ("nokey", "key=value"),
    ]:
        with pytest.raises(UserError, match=message):
            parse_vary([bad])
    with pytest.raises(UserError, match="at least one --vary"):
        parse_vary([])


def _compare(tmp_path, capsys, *extra):
    code = main(
        [
            "compare",
            *FAST,
            "train.epochs=2",
            "--vary",
            "optimizer.name=sgd,adam",
            "--seeds",
            "2",
            "--jobs",
            "2",
            "--out",
            str(tmp_path / "cmp"),
            *extra,
        ]
    )
    return code, capsys.readouterr()


def _patch_json(path, **values):
    path.write_text(json.dumps({**json.loads(path.read_text()), **values}))


def _epoch(epoch, val_accuracy, time_s):
    return {
        "epoch": epoch,
        "train_loss": 0.5,
        "train_accuracy": 0.8,
        "val_loss": 0.5,
        "val_accuracy": val_accuracy,
        "lr": 0.1,
        "time_s": time_s,
    }


# (val_accuracy, time_s) of epochs 1 and 2 of each seed
CURVES = {
    ("sgd", 0): [(0.70, 1.0), (0.85, 2.0)],
    ("sgd", 1): [(0.81, 1.5), (0.90, 1.5)],
    ("adam", 0): [(0.75, 0.5), (0.82, 0.5)],
    ("adam", 1): [(0.80, 0.5), (0.95, 0.5)],
}


@pytest.mark.slow
@pytest.mark.multiprocess
def test_compare_writes_its_outputs_and_resumes(tmp_path, capsys):
    code, _ = _compare(tmp_path, capsys)
    assert code == 0
    out = tmp_path / "cmp"
    assert {p.name for p in out.iterdir()} >= {
        "compare.json",
        "runs",
        "summary.csv",
        "curves.png",
        "final.png",
        "report.html",
    }
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert [r["variant"] for r in rows] == ["optimizer.name=sgd", "optimizer.name=adam"]
    assert list(rows[0])[:10] == [
        "variant",
        "optimizer.name",
        "seeds",
        "test_accuracy_mean",
        "test_accuracy_ci95",
        "test_loss_mean",
        "test_loss_ci95",
        "best_epoch_mean",
        "time_per_epoch_s",
        "diverged",
    ]
    assert rows[0]["metric"] == "test_accuracy"
    cfg = json.loads((out / "compare.json").read_text())
    assert cfg["seeds"] == 2
    # re-running: a finished run is skipped, an unfinished one resumed, a missing one trained
    done = out / "runs" / "optimizer.name=sgd" / "seed-0" / "summary.json"
    stamp = done.stat().st_mtime_ns
    (out / "runs" / "optimizer.name=adam" / "seed-1" / "summary.json").unlink()
    shutil.rmtree(out / "runs" / "optimizer.name=sgd" / "seed-1")

    def numbers():  # everything but the wall-clock time
        return [
            {k: v for k, v in r.items() if k != "time_per_epoch_s"}
            for r in csv.DictReader((out / "summary.csv").open())
        ]

    before = numbers()
    code, _ = _compare(tmp_path, capsys)
    assert code == 0 and done.stat().st_mtime_ns == stamp
    assert numbers() == before  # the same numbers again
    code, captured = _compare(tmp_path, capsys, "--seeds", "3")
    assert code == 2 and "different comparison" in captured.err

    # finished runs are read, not re-run: hand-made results give hand-computed summaries
    for (name, k), curve in CURVES.items():
        run = out / "runs" / f"optimizer.name={name}" / f"seed-{k}"
        accuracy = {"sgd": [0.9, 0.7], "adam": [0.8, 0.8]}[name][k]
        _patch_json(run / "summary.json", test_accuracy=accuracy)
        (run / "metrics.jsonl").write_text(
            "".join(json.dumps(_epoch(e, acc, t)) + "\n" for e, (acc, t) in enumerate(curve, 1))
        )
    code, captured = _compare(tmp_path, capsys)
    sgd = list(csv.DictReader((out / "summary.csv").open()))[0]
    # [0.9, 0.7]: mean 0.8, s = sqrt(0.02), t_{0.975, 1} = tan(0.475 pi) = 12.7062047361747
    assert float(sgd["test_accuracy_mean"]) == pytest.approx(0.8)
    assert float(sgd["test_accuracy_ci95"]) == pytest.approx(12.706204736174696 * 0.1)
    assert "optimizer.name=sgd   test accuracy 0.8000 ± 1.2706  (0 diverged)" in captured.out

    # seconds until val_accuracy >= 0.8: sgd 1 + 2 = 3 and 1.5, adam 0.5 + 0.5 = 1 and 0.5
    code, captured = _compare(tmp_path, capsys, "--metric", "time_to_target", "--target", "0.8")
    assert code == 0
    sgd, adam = csv.DictReader((out / "summary.csv").open())
    assert (sgd["metric"], sgd["reached"], adam["reached"]) == ("time_to_target", "2", "2")
    assert float(sgd["time_to_target_mean"]) == pytest.approx(2.25)
    assert float(sgd["time_to_target_ci95"]) == pytest.approx(12.706204736174696 * 0.75)
    assert float(adam["time_to_target_mean"]) == pytest.approx(0.75)
    # paired differences 2 and 1: t = 1.5 / 0.5 = 3 with 1 dof, p = 1 - 2 atan(3) / pi
    report = (out / "report.html").read_text()
    assert (
        "optimizer.name=adam has the better mean than optimizer.name=sgd (lower seconds to "
        "target, by 1.5 s)" in report
    )
    p = 1 - 2 * math.atan(3) / math.pi  # 0.2048
    assert f"paired t-test on the 2 seeds both have, t = 3.00, p = {p:.3g}" in report
    # epochs until val_accuracy >= 0.9: only seed 1 of each gets there, at epoch 2
    code, captured = _compare(tmp_path, capsys, "--metric", "epochs_to_target", "--target", "0.9")
    sgd, adam = csv.DictReader((out / "summary.csv").open())
    assert (sgd["reached"], sgd["epochs_to_target_mean"], adam["reached"]) == ("1", "2.0", "1")
    assert "epochs to target 2.0000  (1 of 2 reached the target)" in captured.out
    assert "<td>1 of 2</td>" in (out / "report.html").read_text()
    for argv, message in [
        (["--metric", "epochs_to_target"], "needs --target"),
        (["--metric", "time_to_target", "--target", "1.5"], "(0, 1]"),
        (["--target", "0.5"], "only used with"),
    ]:
        code, captured = _compare(tmp_path, capsys, *argv)
        assert code == 2 and message in captured.err


def test_summary_by_hand():
    # three seeds with test accuracies 0.9, 0.8, 0.7: mean 0.8, s = 0.1, t_{0.975, 2} = 4.30265
    variants = [{"optimizer.name": "sgd"}]
    runs = {}
    for k, (acc, reached_at) in enumerate([(0.9, 1), (0.8, 3), (0.7, None)]):
        summary = {
            "test_accuracy": acc,
            "test_loss": 1 - acc,
            "diverged": False,
            "best_epoch": k + 1,
            "epochs_run": 3,
            "wall_time_s": 6.0,
        }
        history = [_epoch(e, 0.95 if e == reached_at else 0.5, 2.0) for e in (1, 2, 3)]
        runs[("optimizer.name=sgd", k)] = (summary, history)
    (row,) = compare.summarize(variants, 3, runs, compare.choose_metric())
    assert row["test_accuracy_mean"] == pytest.approx(0.8)
    # t_{0.975, 2} = 0.95 / sqrt(2 * 0.975 * 0.025) (closed form for 2 dof) = 4.30265272974946
    assert row["test_accuracy_ci95"] == pytest.approx(4.302652729749464 * 0.1 / math.sqrt(3))
    assert (row["best_epoch_mean"], row["time_per_epoch_s"], row["diverged"]) == (2, 2.0, 0)
    (row,) = compare.summarize(variants, 3, runs, compare.choose_metric("time_to_target", 0.9))
    assert (row["reached"], row["values"]) == (2, {0: 2.0, 1: 6.0})
    assert row["time_to_target_mean"] == 4.0
    # [2, 6]: s = sqrt(8), half-width t_{0.975, 1} * sqrt(8) / sqrt(2)
    assert row["time_to_target_ci95"] == pytest.approx(12.706204736174696 * 2)


def test_epochs_and_time_to_target_from_a_hand_written_metrics_file(tmp_path):
    lines = [
        '{"epoch": 1, "val_accuracy": 0.50, "time_s": 1.5}',
        '{"epoch": 2, "val_accuracy": 0.79, "time_s": 2.0}',
        '{"epoch": 3, "val_accuracy": 0.81, "time_s": 2.5}',
        '{"epoch": 4, "val_accuracy": NaN, "time_s": 3.0}',
    ]
    (tmp_path / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    history = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert compare.to_target(history, 0.8) == (3, 6.0)
    assert compare.to_target(history, 0.79) == (2, 3.5)  # reaching means >=
    assert compare.to_target(history, 0.5) == (1, 1.5)
    assert compare.to_target(history, 0.9) == (None, None)
    epochs = compare.choose_metric("epochs_to_target", 0.8)
    assert compare.run_value(epochs, {"diverged": False}, history) == 3


def test_report_escapes_what_comes_from_configs(tmp_path, capsys):
    out = tmp_path / "cmp"
    code = main(
        [
            "compare",
            *FAST,
            "train.epochs=1",
            "--vary",
            "distributed.address=127.0.0.1,<script>alert(1)</script>",
            "--seeds",
            "1",
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    report = (out / "report.html").read_text()
    assert "<script>alert(1)" not in report
    assert "distributed.address=&lt;script&gt;alert(1)&lt;/script&gt;" in report
    page = Page("<h1>").heading("<b>").paragraph("<i>", styled("sig", "<u>"))
    page.list(["<li>", ("<em>", "x")]).table(["<th>"], [["<td>", 0.5, None]]).preformatted("<pre>")
    text = page.html()
    assert text.count("<script>") == 1  # the page's own image check
    for tag in ("h1", "b", "i", "u", "li", "em", "th", "td", "pre"):
        assert f"&lt;{tag}&gt;" in text
    assert "<td>0.5000</td><td>–</td>" in text and '<span class="sig">&lt;u&gt;</span>' in text


@pytest.mark.multiprocess
def test_report_opens_in_headless_chromium(tmp_path, capsys):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (.ci/run installs it)")
    _compare(tmp_path, capsys)
    report = tmp_path / "cmp" / "report.html"
    html = report.read_text()
    assert "Welch" in html and "http" not in html.replace("http-equiv", "")  # nothing remote
    dom = subprocess.run(
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
            f"--user-data-dir={tempfile.mkdtemp()}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            report.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-images="2/2"' in dom.stdout  # the page's script ran and both plots decoded


def test_documented_minima_are_stationary():
    for fn in trajectories.FUNCTIONS.entries():
        for x, y in fn.surface.minima:
            xy = torch.tensor([x, y], dtype=torch.float64, requires_grad=True)
            value = fn.build(xy[0], xy[1])
            (grad,) = torch.autograd.grad(value, xy)
            assert grad.abs().max() < 1e-9, fn.name
    saddle = trajectories.FUNCTIONS["saddle"].build
    assert saddle(torch.tensor(0.0), torch.tensor(math.sqrt(2))) == pytest.approx(-1)


def test_adam_ends_near_the_beale_minimum():
    (adam,) = trajectories.run_all("beale", ["adam"], 1000, {})
    x, y, value = adam.points[-1]
    assert abs(x - 3) < 0.02 and abs(y - 0.5) < 0.01 and value < 1e-4
    (sgd,) = trajectories.run_all("saddle", ["sgd"], 300, {})
    assert abs(sgd.points[-1][1]) < 0.1  # plain SGD is still at the saddle (y ~ 0)


@pytest.mark.slow
def test_trajectories_command(tmp_path, capsys):
    out = tmp_path / "tj"
    code = main(
        [
            "trajectories",
            "--function",
            "long_valley",
            "--optimizers",
            "sgd,adam,rprop",
            "--steps",
            "50",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    assert {p.name for p in out.iterdir()} == {
        "trajectories.csv",
        "trajectories.png",
        "trajectories_panels.png",
        "trajectories.gif",
    }
    rows = list(csv.DictReader((out / "trajectories.csv").open()))
    assert len(rows) == 3 * 51 and rows[0] == {
        "optimizer": "sgd",
        "step": "0",
        "x": "-9.0",
        "y": "1.0",
        "f": repr(0.81 + 1.0),
    }
    assert (out / "trajectories.gif").read_bytes()[:6] == b"GIF89a"
    for argv, message in [
        (["--function", "himmelblau"], "--function"),
        (["--optimizers", "sgd,lbfgs"], "--optimizers"),
        (["--steps", "0"], "--steps"),
        (["--lrs", "sgd=x"], "--lrs"),
    ]:
        assert main(["trajectories", *argv, "--out", str(tmp_path / "x")]) == 2
        assert message in capsys.readouterr().err


@pytest.mark.slow
def test_search_scores_on_validation_only_then_tests_the_best_once(tmp_path, capsys):
    out = tmp_path / "search"
    argv = [
        "search",
        *FAST,
        "train.epochs=3",
        "--grid",
        "optimizer.lr=0.01,0.1,1.0",
        "--grid",
        "train.batch_size=16,64",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    trial_summaries = list((out / "trials").glob("*/seed-*/summary.json"))
    assert trial_summaries
    for path in trial_summaries:  # trials never touched the test split
        s = json.loads(path.read_text())
        assert s["test_accuracy"] is None and s["test_loss"] is None
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert len(rows) == 6 and {r["state"] for r in rows} <= {"complete", "pruned"}
    complete = [r for r in rows if r["state"] == "complete"]
    best = max(complete, key=lambda r: float(r["value"]))
    final = json.loads((out / "best" / "summary.json").read_text())
    config = (out / "best" / "config.toml").read_text()
    assert f"lr = {float(json.loads(best['optimizer.lr']))}" in config
    assert f"batch_size = {json.loads(best['train.batch_size'])}" in config
    assert final["test_accuracy"] is not None and f"{final['test_accuracy']:.4f}" in printed
    assert (out / "search.png").exists()
    # re-running continues the stored study: nothing left to do, the same answer
    assert main(argv) == 0
    assert len(list(csv.DictReader((out / "results.csv").open()))) == 6
    # a best/ that holds another configuration (a continued search found a new best) is kept,
    # and the new best is trained next to it
    config_toml = out / "best" / "config.toml"
    config_toml.write_text(config_toml.read_text().replace("seed = 0", "seed = 7"))
    assert main(argv) == 0
    assert "seed = 7" in config_toml.read_text()
    assert len(list(out.glob("best-trial-*/summary.json"))) == 1
    assert main(argv[:-2] + ["--sampler", "tpe", "--trials", "3", "--out", str(out)]) == 2
    assert "different search" in capsys.readouterr().err
    assert (
        main(
            [
                "search",
                *FAST,
                "--grid",
                "optimizer.lr=0.1",
                "--sampler",
                "random",
                "--out",
                str(tmp_path / "r"),
            ]
        )
        == 2
    )
    assert "needs --trials" in capsys.readouterr().err


def test_lr_find_restores_the_model_and_suggests_a_rate(tmp_path):
    from trainlab import build
    from trainlab.config import resolve
    from trainlab.experiments import lrfind

    cfg = resolve(None, FAST)
    splits = build.load_data(cfg)
    parts = build.parts(cfg, splits)
    before = {k: v.clone() for k, v in parts.model.state_dict().items()}
    r = lrfind.range_test(parts.step, splits.x_train, splits.y_train, 32, 1e-5, 100.0, 120)
    assert all(torch.equal(v, parts.model.state_dict()[k]) for k, v in before.items())
    assert r["lr"][0] == pytest.approx(1e-5) and len(r["lr"]) < 120  # it stopped: diverging
    assert 1e-4 < r["suggestion"] < 10
    assert lrfind.suggest([1e-3, 1e-2, 1e-1], [1.0, 2.0, 3.0]) is None  # never fell: no advice
    out = tmp_path / "lf"
    assert main(["lr-find", *FAST, "--steps", "60", "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {"lr_find.csv", "lr_find.png"}


@pytest.mark.slow
def test_diagnostics_show_vanishing_gradients_in_a_deep_sigmoid_net(tmp_path):
    from trainlab import train
    from trainlab.training import diagnostics

    deep = [
        "data.name=mnist1d",
        "model.name=mlp",
        "model.hidden=[32,32,32,32,32]",
        "model.norm=none",
        "model.dropout=0",
        "optimizer.name=sgd",
        "optimizer.lr=0.05",
        "optimizer.weight_decay=0",
        "schedule.name=constant",
        "train.epochs=2",
        "diagnostics=true",
    ]
    ratio = {}
    for act in ("sigmoid", "relu"):
        train(None, deep + [f"model.activation={act}"], out=tmp_path / act, progress="quiet")
        rows = diagnostics.read(tmp_path / act / "diagnostics.jsonl")
        grads = [r["grad_norm"] for r in rows if r["epoch"] == 2 and r["kind"] == "weights"]
        assert len(grads) == 6
        assert (tmp_path / act / "diagnostics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        ratio[act] = grads[0] / grads[-1]  # input layer / output layer
        kinds = {r["kind"] for r in rows}
        assert ("Sigmoid" if act == "sigmoid" else "ReLU") in kinds
    assert ratio["sigmoid"] < 1e-2 and ratio["relu"] > 10 * ratio["sigmoid"]


def test_dead_relus_gradient_norms_and_update_ratios_have_known_values(tmp_path):
    from trainlab.training import diagnostics

    model = torch.nn.Sequential(torch.nn.Linear(2, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    with torch.no_grad():  # on inputs in [0, 1)^2, units 0 and 1 are negative for every sample
        model[0].weight.copy_(
            torch.tensor([[1.0, 1.0], [-1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, -1.0]])
        )
        model[0].bias.copy_(torch.tensor([-3.0, -0.1, 0.0, 0.5, 0.0]))
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(64, 2, generator=g), torch.randint(0, 3, (64,), generator=g)
    recorder = diagnostics.Diagnostics(
        model, x, y, torch.nn.functional.cross_entropy, tmp_path / "diagnostics.jsonl"
    )
    recorder.record(1)
    with torch.no_grad():  # an "epoch" that moves the last layer's weights by half their norm
        model[2].weight.mul_(1.5)
    recorder.record(2)
    rows = diagnostics.read(tmp_path / "diagnostics.jsonl")
    assert [r["dead"] for r in rows if r["kind"] == "ReLU"] == pytest.approx([2 / 5, 2 / 5])
    weights = {(r["epoch"], r["layer"]): r for r in rows if r["kind"] == "weights"}
    assert weights[(2, "2")]["update_ratio"] == pytest.approx(0.5)
    assert weights[(2, "0")]["update_ratio"] == 0
    loss = torch.nn.functional.cross_entropy(model(x), y)
    grads = torch.autograd.grad(loss, [model[0].weight, model[2].weight])
    assert [weights[(2, "0")]["grad_norm"], weights[(2, "2")]["grad_norm"]] == pytest.approx(
        [float(grads[0].norm()), float(grads[1].norm())], rel=1e-6
    )


@pytest.mark.slow
def test_diagnose_reruns_a_run_without_diagnostics(tmp_path, fast_run, capsys):
    import trainlab
    from trainlab.training import diagnostics

    _, run = fast_run()
    assert main(["diagnose", str(run)]) == 0
    rerun = run / "diagnose"
    assert (rerun / "diagnostics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = diagnostics.read(rerun / "diagnostics.jsonl")
    assert sorted({r["epoch"] for r in rows}) == [1, 2, 3, 4]
    # the last epoch's gradient norms are those of last.pt's weights on the probe batch (the
    # first 512 training samples, evaluation mode)
    cfg = trainlab.resolve_config(rerun / "config.toml")
    splits = build.load_data(cfg, "cpu")
    model = trainlab.load_model(rerun, "last").eval()
    layers = [m.weight for m in model.modules() if isinstance(m, torch.nn.Linear)]
    loss = torch.nn.functional.cross_entropy(model(splits.x_train[:512]), splits.y_train[:512])
    expected = [float(g.norm()) for g in torch.autograd.grad(loss, layers)]
    found = [r["grad_norm"] for r in rows if r["epoch"] == 4 and r["kind"] == "weights"]
    assert found == pytest.approx(expected, rel=1e-5)
    assert main(["diagnose", str(rerun)]) == 0  # now it only plots
    assert not (rerun / "diagnose").exists()


def test_tensorboard_events_are_written(fast_run):
    _, run = fast_run("logging.tensorboard=true")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    assert [e.step for e in events.Scalars("val_accuracy")] == [1, 2, 3, 4]
