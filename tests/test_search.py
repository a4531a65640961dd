"""Search that loses nothing: a killed search's running trial is retried when the search runs
again, and the pruner sees the mean over a trial's seeds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import FAST
from trainlab.config import resolve
from trainlab.experiments import search
from trainlab.runs.rundir import RunDir


def test_a_killed_search_finishes_every_trial_when_run_again(tmp_path, monkeypatch):
    """SIGKILL the search while its second trial trains: that trial stays RUNNING in Optuna's
    storage. Run again, it is failed (stale heartbeat), retried with the same parameters, and
    its run resumes from its checkpoint; every grid point ends complete or pruned."""
    out = tmp_path / "search"
    grid = ["optimizer.lr=0.01,0.03,0.1,0.3"]
    args = [*FAST, "train.epochs=6", "train.batch_size=4"]
    proc = subprocess.Popen([sys.executable, "-m", "trainlab", "search", *args, "--grid", *grid,
                             "--out", str(out)], stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while len(list(out.glob("trials/*/seed-0/last.pt"))) < 2:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    monkeypatch.setattr(search, "GRACE_S", 1.0)
    monkeypatch.setattr(search, "HEARTBEAT_S", 1.0)
    time.sleep(1.5)
    result = search.run(None, args, grid, "grid", None, 1, out, log=lambda line: None)
    import optuna

    study = optuna.load_study(study_name="trainlab", storage=f"sqlite:///{out / 'study.db'}")
    states = [t.state.name for t in study.trials]
    assert states.count("FAIL") == 1
    assert states.count("COMPLETE") + states.count("PRUNED") == 4
    finished = {json.dumps(t.params, sort_keys=True) for t in study.trials
                if t.state.name in ("COMPLETE", "PRUNED")}
    assert len(finished) == 4  # every grid point once
    assert result["trials"] == 5


def test_the_pruner_sees_the_mean_over_seeds(tmp_path):
    """Two seeds train at once; each reported value is the mean of the two runs' validation
    accuracy at that epoch, read back from their metrics files."""
    configs = [resolve(None, [*FAST, f"seed={s}", "train.threads=1"]) for s in (0, 1)]
    folders = [tmp_path / f"seed-{s}" for s in (0, 1)]
    reported = []
    summaries = search._seeds_at_once(configs, folders, "val_accuracy",
                                      lambda epoch, value: reported.append((epoch, value)))
    curves = [[m["val_accuracy"] for m in RunDir(f).read_metrics()] for f in folders]
    assert reported == [(e + 1, (a + b) / 2) for e, (a, b) in enumerate(zip(*curves))]
    assert all(s["test_accuracy"] is None for s in summaries)
    assert curves[0] != curves[1]  # two seeds, two curves: a mean, not a copy
