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

from trainlab.analysis import stats
from trainlab.experiments import trajectories
from trainlab.cli import main
from trainlab.experiments.compare import parse_vary, split_values
from trainlab.errors import UserError

from conftest import FAST


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
    # Holm: sorted 0.01 * 3, 0.03 * 2, 0.04 * 1 -> 0.03, 0.06, max(0.06, 0.04)
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def test_vary_parsing():
    assert split_values("sgd,adam") == ["sgd", "adam"]
    assert split_values("[64,64],[128]") == ["[64,64]", "[128]"]
    grid = parse_vary(["optimizer.name=sgd,adam", "model.hidden=[8],[8,8]"])
    assert grid == [{"optimizer.name": "sgd", "model.hidden": [8]},
                    {"optimizer.name": "sgd", "model.hidden": [8, 8]},
                    {"optimizer.name": "adam", "model.hidden": [8]},
                    {"optimizer.name": "adam", "model.hidden": [8, 8]}]
    for bad, message in [("optimizr.name=sgd", "did you mean optimizer.name"),
                         ("optimizer.name=", "empty"), ("optimizer.name=sgd,sgd", "repeated"),
                         ("optimizer.lr=0.1,-1", "optimizer.lr = -1"), ("nokey", "key=value")]:
        with pytest.raises(UserError, match=message):
            parse_vary([bad])
    with pytest.raises(UserError, match="at least one --vary"):
        parse_vary([])


def _compare(tmp_path, capsys, *extra):
    code = main(["compare", *FAST, "train.epochs=2", "--vary", "optimizer.name=sgd,adam",
                 "--seeds", "2", "--jobs", "2", "--out", str(tmp_path / "cmp"), *extra])
    return code, capsys.readouterr()


def test_compare_writes_its_outputs_and_resumes(tmp_path, capsys):
    code, _ = _compare(tmp_path, capsys)
    assert code == 0
    out = tmp_path / "cmp"
    assert {p.name for p in out.iterdir()} >= {"compare.json", "runs", "summary.csv", "curves.png",
                                              "final.png", "report.html"}
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert [r["variant"] for r in rows] == ["optimizer.name=sgd", "optimizer.name=adam"]
    for r, variant in zip(rows, ["sgd", "adam"]):
        accs = [json.loads((out / "runs" / f"optimizer.name={variant}" / f"seed-{k}" /
                            "summary.json").read_text())["test_accuracy"] for k in range(2)]
        mean, half = stats.mean_ci(accs)
        assert float(r["test_accuracy_mean"]) == pytest.approx(mean)
        assert float(r["test_accuracy_ci95"]) == pytest.approx(half)
    # seeds 0 and 1 of the base config
    cfg = json.loads((out / "compare.json").read_text())
    assert cfg["seeds"] == 2
    # re-running: a finished run is skipped, an unfinished one resumed, a missing one trained
    done = out / "runs" / "optimizer.name=sgd" / "seed-0" / "summary.json"
    stamp = done.stat().st_mtime_ns
    (out / "runs" / "optimizer.name=adam" / "seed-1" / "summary.json").unlink()
    shutil.rmtree(out / "runs" / "optimizer.name=sgd" / "seed-1")
    def numbers():  # everything but the wall-clock time
        return [{k: v for k, v in r.items() if k != "time_per_epoch_s"}
                for r in csv.DictReader((out / "summary.csv").open())]

    before = numbers()
    code, _ = _compare(tmp_path, capsys)
    assert code == 0 and done.stat().st_mtime_ns == stamp
    assert numbers() == before  # the same numbers again
    code, captured = _compare(tmp_path, capsys, "--seeds", "3")
    assert code == 2 and "different comparison" in captured.err


def test_report_opens_in_headless_chromium(tmp_path, capsys):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (.ci/run installs it)")
    _compare(tmp_path, capsys)
    report = tmp_path / "cmp" / "report.html"
    html = report.read_text()
    assert "Welch" in html and "http" not in html.replace("http-equiv", "")  # nothing remote
    dom = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tempfile.mkdtemp()}", "--virtual-time-budget=5000", "--dump-dom",
         report.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-images="2/2"' in dom.stdout  # the page's script ran and both plots decoded


def test_documented_minima_are_stationary():
    for name, fn in trajectories.FUNCTIONS.items():
        for x, y in fn.minima:
            xy = torch.tensor([x, y], dtype=torch.float64, requires_grad=True)
            value = fn.f(xy[0], xy[1])
            (grad,) = torch.autograd.grad(value, xy)
            assert grad.abs().max() < 1e-9, name
    assert trajectories.FUNCTIONS["saddle"].f(torch.tensor(0.0), torch.tensor(math.sqrt(2))) == pytest.approx(-1)


def test_adam_ends_near_the_beale_minimum():
    (adam,) = trajectories.run_all("beale", ["adam"], 1000, {})
    x, y, value = adam.points[-1]
    assert abs(x - 3) < 0.02 and abs(y - 0.5) < 0.01 and value < 1e-4
    (sgd,) = trajectories.run_all("saddle", ["sgd"], 300, {})
    assert abs(sgd.points[-1][1]) < 0.1  # plain SGD is still at the saddle (y ~ 0)


def test_trajectories_command(tmp_path, capsys):
    out = tmp_path / "tj"
    code = main(["trajectories", "--function", "long_valley", "--optimizers", "sgd,adam,rprop",
                 "--steps", "50", "--out", str(out)])
    assert code == 0
    assert {p.name for p in out.iterdir()} == {"trajectories.csv", "trajectories.png", "trajectories.gif"}
    rows = list(csv.DictReader((out / "trajectories.csv").open()))
    assert len(rows) == 3 * 51 and rows[0] == {"optimizer": "sgd", "step": "0", "x": "-9.0",
                                               "y": "1.0", "f": repr(0.81 + 1.0)}
    assert (out / "trajectories.gif").read_bytes()[:6] == b"GIF89a"
    for argv, message in [(["--function", "himmelblau"], "--function"),
                          (["--optimizers", "sgd,lbfgs"], "--optimizers"),
                          (["--steps", "0"], "--steps"), (["--lrs", "sgd=x"], "--lrs")]:
        assert main(["trajectories", *argv, "--out", str(tmp_path / "x")]) == 2
        assert message in capsys.readouterr().err


def test_search_scores_on_validation_only_then_tests_the_best_once(tmp_path, capsys):
    out = tmp_path / "search"
    argv = ["search", *FAST, "train.epochs=3", "--grid", "optimizer.lr=0.01,0.1,1.0",
            "--grid", "train.batch_size=16,64", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    trial_summaries = list((out / "trials").glob("trial-*/seed-*/summary.json"))
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
    assert main(argv[:-2] + ["--sampler", "tpe", "--trials", "3", "--out", str(out)]) == 2
    assert "different search" in capsys.readouterr().err
    assert main(["search", *FAST, "--grid", "optimizer.lr=0.1", "--sampler", "random",
                 "--out", str(tmp_path / "r")]) == 2
    assert "needs --trials" in capsys.readouterr().err


def test_lr_find_restores_the_model_and_suggests_a_rate(tmp_path):
    from trainlab import data
    from trainlab.experiments import lrfind
    from trainlab.config import resolve
    from trainlab.loop import build

    cfg = resolve(None, FAST)
    splits = data.load(cfg)
    parts = build(cfg, splits)
    before = {k: v.clone() for k, v in parts.model.state_dict().items()}
    r = lrfind.range_test(parts.model, parts.optimizer, splits.x_train, splits.y_train,
                          parts.loss_fn, 32, 1e-5, 100.0, 120)
    assert all(torch.equal(v, parts.model.state_dict()[k]) for k, v in before.items())
    assert r["lr"][0] == pytest.approx(1e-5) and len(r["lr"]) < 120  # it stopped: diverging
    assert 1e-4 < r["suggestion"] < 10
    assert lrfind.suggest([1e-3, 1e-2, 1e-1], [1.0, 2.0, 3.0]) is None  # never fell: no advice
    out = tmp_path / "lf"
    assert main(["lr-find", *FAST, "--steps", "60", "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {"lr_find.csv", "lr_find.png"}


def test_diagnostics_show_vanishing_gradients_in_a_deep_sigmoid_net(tmp_path):
    from trainlab import train
    from trainlab.experiments import diagnostics

    deep = ["data.name=mnist1d", "model.name=mlp", "model.hidden=[32,32,32,32,32]",
            "model.norm=none", "model.dropout=0", "optimizer.name=sgd", "optimizer.lr=0.05",
            "optimizer.weight_decay=0", "schedule.name=constant", "train.epochs=2",
            "diagnostics=true"]
    ratio = {}
    for act in ("sigmoid", "relu"):
        train(None, deep + [f"model.activation={act}"], out=tmp_path / act, progress="quiet")
        rows = diagnostics.read(tmp_path / act / "diagnostics.jsonl")
        grads = [r["grad_norm"] for r in rows if r["epoch"] == 2 and r["kind"] == "weights"]
        assert len(grads) == 6 and (tmp_path / act / "diagnostics.png").exists()
        ratio[act] = grads[0] / grads[-1]  # input layer / output layer
        kinds = {r["kind"] for r in rows}
        assert ("Sigmoid" if act == "sigmoid" else "ReLU") in kinds
    assert ratio["sigmoid"] < 1e-2 and ratio["relu"] > 10 * ratio["sigmoid"]
    relu = diagnostics.read(tmp_path / "relu" / "diagnostics.jsonl")
    assert all(0 <= r["dead"] <= 1 for r in relu if "dead" in r)


def test_diagnose_reruns_a_run_without_diagnostics(tmp_path, fast_run, capsys):
    _, run = fast_run()
    assert main(["diagnose", str(run)]) == 0
    assert (run / "diagnose" / "diagnostics.png").exists()
    assert main(["diagnose", str(run / "diagnose")]) == 0  # now it only plots


def test_tensorboard_events_are_written(fast_run):
    _, run = fast_run("logging.tensorboard=true")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    assert [e.step for e in events.Scalars("val_accuracy")] == [1, 2, 3, 4]
