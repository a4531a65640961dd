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

import pytest

from trainlab.config import resolve
from trainlab.experiments import search
from trainlab.runs.rundir import RunDir

from tests.conftest import FAST

pytestmark = pytest.mark.slow  # every test trains several runs


@pytest.mark.multiprocess
def test_a_killed_search_finishes_every_trial_when_run_again(tmp_path, monkeypatch):
    """SIGKILL the search while its second trial trains: that trial stays RUNNING in Optuna's
    storage. Run again, it is failed (stale heartbeat), retried with the same parameters, and
    its run resumes from its checkpoint; every grid point ends complete or pruned."""
    out = tmp_path / "search"
    grid = ["optimizer.lr=0.01,0.03,0.1,0.3"]
    args = [*FAST, "train.epochs=6", "train.batch_size=4"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "trainlab", "search", *args, "--grid", *grid, "--out", str(out)],
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
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
    finished = {
        json.dumps(t.params, sort_keys=True)
        for t in study.trials
        if t.state.name in ("COMPLETE", "PRUNED")
    }
    assert len(finished) == 4  # every grid point once
    assert result["trials"] == 5


@pytest.mark.multiprocess
def test_the_pruner_sees_the_mean_over_seeds(tmp_path):
    """Two seeds train at once; each reported value is the mean of the two runs' validation
    accuracy at that epoch, read back from their metrics files."""
    configs = [resolve(None, [*FAST, f"seed={s}", "train.threads=1"]) for s in (0, 1)]
    folders = [tmp_path / f"seed-{s}" for s in (0, 1)]
    reported = []
    summaries = search._seeds_at_once(
        configs, folders, "val_accuracy", lambda epoch, value: reported.append((epoch, value))
    )
    curves = [[m["val_accuracy"] for m in RunDir(f).read_metrics()] for f in folders]
    assert reported == [(e + 1, (a + b) / 2) for e, (a, b) in enumerate(zip(*curves))]
    assert all(s["test_accuracy"] is None for s in summaries)
    assert curves[0] != curves[1]  # two seeds, two curves: a mean, not a copy


def _two_searches(tmp_path: Path, storage: str, study: str, grid: str, epochs: int) -> list[str]:
    """Two `trainlab search` processes on one study, each with its own --out (killed if they
    outlive the test); the names of the grid points each trained, both outs together."""
    common = [
        sys.executable,
        "-m",
        "trainlab",
        "search",
        *FAST,
        f"train.epochs={epochs}",
        "--grid",
        grid,
        "--storage",
        storage,
        "--study",
        study,
    ]
    procs = [
        subprocess.Popen(
            [*common, "--out", str(tmp_path / f"out{i}")],
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        for i in (0, 1)
    ]
    try:
        outputs = [p.communicate(timeout=240) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
    assert [p.returncode for p in procs] == [0, 0], outputs
    return sorted(
        f.parent.name for i in (0, 1) for f in (tmp_path / f"out{i}" / "trials").glob("*/seed-0")
    )


@pytest.mark.multiprocess
def test_two_processes_on_one_study_finish_the_grid_with_no_trial_run_twice(tmp_path):
    """Two `trainlab search` processes share one study (a SQLite file both can reach, as a
    database server would be for machines); each writes its own --out. Every grid point is
    trained exactly once, by one of them, and both end with the same best trial."""
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    names = _two_searches(
        tmp_path, storage, "shared", "optimizer.lr=0.003,0.01,0.03,0.1,0.3,1.0", epochs=3
    )
    assert len(names) == 6 and len(set(names)) == 6  # each grid point once, in one of the two
    import optuna

    study = optuna.load_study(study_name="shared", storage=storage)
    done = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert sorted(json.dumps(t.params) for t in done) == sorted(
        {json.dumps(t.params) for t in done}
    )
    assert len(done) == 6
    assert all((tmp_path / f"out{i}" / "best" / "summary.json").exists() for i in (0, 1))


def test_another_search_in_a_shared_study_is_refused(tmp_path, capsys):
    from trainlab.cli import main

    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    first = [
        "search",
        *FAST,
        "train.epochs=1",
        "--grid",
        "optimizer.lr=0.1",
        "--storage",
        storage,
        "--out",
        str(tmp_path / "a"),
    ]
    assert main(first) == 0
    other = [
        "search",
        *FAST,
        "train.epochs=1",
        "--grid",
        "optimizer.lr=0.2",
        "--storage",
        storage,
        "--out",
        str(tmp_path / "b"),
    ]
    assert main(other) == 2
    assert "holds another search" in capsys.readouterr().err
    assert (
        main(
            [
                "search",
                *FAST,
                "--grid",
                "optimizer.lr=0.1",
                "--storage",
                "postgresql://nobody@127.0.0.1:1/none",
                "--out",
                str(tmp_path / "c"),
            ]
        )
        == 2
    )
    assert "--storage" in capsys.readouterr().err.splitlines()[-1]


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


@pytest.fixture
def postgres(tmp_path):
    """A PostgreSQL server of its own on the loopback address (Debian's package, which
    .ci/run installs), trust authentication, stopped afterwards even when the test fails."""
    import pwd
    import shutil
    import socket

    bin_dir = _postgres_bin()
    if bin_dir is None or shutil.which("runuser") is None:
        pytest.skip(
            "PostgreSQL is not installed here (.ci/run installs Debian's postgresql): "
            "the shared-study test against a PostgreSQL server is skipped"
        )
    pytest.importorskip("psycopg", reason="psycopg (the test extra) is missing")
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no postgres user to run the server as")
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="trainlab-pg-"))  # pytest's folders are root's alone
    home.chmod(0o755)
    data = home / "pg"
    data.mkdir()
    shutil.chown(data, "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*as_postgres, str(bin_dir / "initdb"), "-D", str(data), "--auth=trust", "-U", "postgres"],
        check=True,
        capture_output=True,
        timeout=120,
        cwd=home,
    )
    subprocess.run(
        [
            *as_postgres,
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-w",
            "-t",
            "60",
            "-l",
            str(data / "log"),
            "-o",
            f"-p {port} -k {data} -c listen_addresses=127.0.0.1",
            "start",
        ],
        check=True,
        capture_output=True,
        timeout=90,
        cwd=home,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_postgres, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
            cwd=home,
        )
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.multiprocess
def test_two_processes_share_a_study_on_a_postgresql_server(tmp_path, postgres):
    """As the SQLite test above, against a real database server, as machines would share it."""
    names = _two_searches(tmp_path, postgres, "pg", "optimizer.lr=0.01,0.1,1.0", epochs=2)
    assert names == sorted(set(names)) and len(names) == 3
