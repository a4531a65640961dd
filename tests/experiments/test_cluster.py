"""--cluster: a grid run by a Dask cluster whose scheduler and workers are separate processes on
the loopback address, each in its own folder, as machines that share the --out folder would be.
Its run folders and summary equal a local run's; a worker killed mid-grid has its unit run
again by another; an address where nothing answers, a missing extra and a user's mistake on a
worker are one line."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from trainlab.cli import main
from trainlab.config import resolve
from trainlab.errors import UserError
from trainlab.experiments import cluster as engine, grid
from trainlab.processes import free_port

from tests.conftest import FAST

pytest.importorskip("distributed")  # the cluster extra; `make test` installs it

GRID = ["--vary", "optimizer.lr=0.05,0.1", "--seeds", "2", "--jobs", "1"]
SHORT = [*FAST, "train.epochs=2"]
EXCLUDED = {"wall_time_s", "run_dir"}  # how long a run took, and the path it was given as


class Cluster:
    """A Dask scheduler and workers, each started as its own process group with its own working
    folder under ``folder``; :meth:`close` kills every one (SIGKILL to the group)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.procs: list[subprocess.Popen] = []
        folder.mkdir(exist_ok=True)
        found = folder / "scheduler.json"
        self._start(
            "scheduler",
            [
                "distributed.cli.dask_scheduler",
                *("--host", "127.0.0.1", "--port", "0", "--no-dashboard"),
                *("--scheduler-file", str(found)),
            ],
        )
        self.address = _wait_for(lambda: _address(found), self.procs[0], "the scheduler file")

    def start_worker(self) -> subprocess.Popen:
        """One worker process: one thread, no nanny (a killed worker stays dead), trainlab and
        PyTorch imported as it starts (while the test does other work)."""
        name = f"worker-{len(self.procs)}"
        return self._start(
            name,
            [
                "distributed.cli.dask_worker",
                self.address,
                *("--nthreads", "1", "--no-nanny", "--no-dashboard", "--name", name),
                *("--preload", "trainlab.experiments.grid"),
            ],
        )

    def wait_for_workers(self, count: int) -> None:
        from distributed import Client

        with Client(self.address, timeout=10, set_as_default=False) as client:
            client.wait_for_workers(count, timeout=60)

    def _start(self, name: str, args: list[str]) -> subprocess.Popen:
        cwd = self.folder / name  # not the client's: folders must reach workers absolute
        cwd.mkdir()
        with (cwd / "log.txt").open("w") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", *args],
                cwd=cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.procs:
            _kill(proc)


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(10)


def _address(scheduler_file: Path) -> str | None:
    try:
        return json.loads(scheduler_file.read_text())["address"]
    except (OSError, ValueError, KeyError):  # not there yet, or half written
        return None


def _wait_for(value, proc: subprocess.Popen, what: str, timeout_s: float = 60):
    deadline = time.monotonic() + timeout_s
    while not (found := value()):
        assert proc.poll() is None, f"exited while waiting for {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)
    return found


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two workers (still starting: a test waits for them), shared by the
    tests that kill nothing."""
    running = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        running.start_worker()
        running.start_worker()
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module")
def local_compare(tmp_path_factory):
    """The comparison as one machine computes it (``--jobs 1``)."""
    out = tmp_path_factory.mktemp("local") / "cmp"
    assert main(["compare", *SHORT, *GRID, "--out", str(out)]) == 0
    return out


def _numbers(out: Path) -> list[dict]:
    """summary.csv without the wall-clock column."""
    with (out / "summary.csv").open() as f:
        return [{k: v for k, v in r.items() if k != "time_per_epoch_s"} for r in csv.DictReader(f)]


def _run(folder: Path) -> tuple[dict, list[dict]]:
    """A run folder's summary and metrics, without times and the folder's own path."""
    summary = json.loads((folder / "summary.json").read_text())
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    return (
        {k: v for k, v in summary.items() if k not in EXCLUDED},
        [{k: v for k, v in r.items() if k != "time_s"} for r in rows],
    )


def _tasks_on(address: str) -> int:
    """How many tasks the scheduler at ``address`` holds (those of other clients included)."""
    from distributed import Client

    with Client(address, timeout=10, set_as_default=False) as client:
        return client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))


def _writer(folder: Path) -> int:
    """The pid of the process that last held the run folder's lock (``pid N on HOST: ...``)."""
    return int((folder / ".lock").read_text().split()[1])


@pytest.mark.slow
@pytest.mark.multiprocess
def test_compare_on_a_cluster_writes_what_a_local_run_writes(
    cluster, local_compare, tmp_path, monkeypatch, capsys
):
    cluster.wait_for_workers(2)
    monkeypatch.chdir(tmp_path)  # a relative --out, and workers working elsewhere
    code = main(["compare", *SHORT, *GRID, "--cluster", cluster.address, "--out", "cmp"])
    assert code == 0, capsys.readouterr().err
    out = tmp_path / "cmp"
    assert _numbers(out) == _numbers(local_compare)
    runs = sorted(p.relative_to(local_compare) for p in local_compare.glob("runs/*/seed-*"))
    assert len(runs) == 4
    assert sorted(p.relative_to(out) for p in out.glob("runs/*/seed-*")) == runs
    workers = {p.pid for p in cluster.procs[1:]}
    for run in runs:
        assert _run(out / run) == _run(local_compare / run)
        assert _writer(out / run) in workers  # trained by a worker, not here


@pytest.mark.slow
@pytest.mark.multiprocess
def test_a_user_error_on_a_worker_is_the_same_line_here(cluster, fast_run):
    """A folder that holds a run of another configuration is refused on the worker with the
    line it gets here, as a UserError, not a traceback."""
    _, run = fast_run()
    (run / "summary.json").unlink()  # unfinished: the worker, not this process, opens it
    other = resolve(None, ["optimizer.lr=0.2"], presets=FAST)
    task = grid.Task("other", run, config=other)
    with pytest.raises(UserError) as here:
        grid.execute(task)
    with pytest.raises(UserError) as there:
        grid.run_tasks([task], 1, cluster=cluster.address)
    assert str(there.value) == str(here.value)
    assert "holds a run of another configuration" in str(there.value)


@pytest.mark.slow
@pytest.mark.multiprocess
def test_an_interrupt_cancels_the_units_and_leaves_nothing_on_the_scheduler(cluster, tmp_path):
    """Ctrl-C (here: raised where the first result is delivered) reaches the caller as itself;
    the units not yet computed are cancelled and the client closed: the scheduler holds no
    task of the grid."""
    variants = grid.parse_vary(["optimizer.lr=0.05,0.1,0.2"], None, SHORT)
    tasks = grid.seed_tasks(None, SHORT, variants, 2, tmp_path / "runs")

    def interrupt(*_):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        grid.run_tasks(tasks, 1, interrupt, vectorize="off", cluster=cluster.address)
    _wait_for(lambda: _tasks_on(cluster.address) == 0, cluster.procs[0], "the grid dropped")


@pytest.mark.multiprocess
def test_a_scheduler_without_workers_or_lost_is_one_line(tmp_path, monkeypatch):
    """No worker within IDLE_S: one line saying what to start. The scheduler killed while it
    holds the grid: one line saying it is lost; both name the address."""
    monkeypatch.setattr(engine, "IDLE_S", 1.0)
    monkeypatch.setattr(engine, "POLL_S", 0.2)
    variants = grid.parse_vary(["optimizer.lr=0.05"], None, SHORT)
    tasks = grid.seed_tasks(None, SHORT, variants, 1, tmp_path / "runs")
    running = Cluster(tmp_path / "cluster")  # no worker
    try:
        with pytest.raises(UserError, match="has had no worker for 1 s") as idle:
            grid.run_tasks(tasks, 1, cluster=running.address)
        assert f"`dask worker {running.address}`" in str(idle.value)
        monkeypatch.setattr(engine, "IDLE_S", 60.0)
        scheduler = running.procs[0]
        _wait_for(lambda: _tasks_on(running.address) == 0, scheduler, "the first grid dropped")

        def kill_when_submitted():
            _wait_for(lambda: _tasks_on(running.address), scheduler, "the grid on the scheduler")
            _kill(scheduler)

        killer = threading.Thread(target=kill_when_submitted, daemon=True)
        killer.start()
        with pytest.raises(UserError, match="lost the Dask scheduler") as lost:
            grid.run_tasks(tasks, 1, cluster=running.address)
        killer.join(10)
        assert str(lost.value).startswith(f"--cluster {running.address}: ")
        assert "\n" not in str(lost.value)
    finally:
        running.close()


def test_an_address_where_nothing_answers_is_one_line(tmp_path, capsys):
    port = free_port()  # nobody listens there
    out = tmp_path / "cmp"
    code = main(["compare", *SHORT, *GRID, "--cluster", f"127.0.0.1:{port}", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    address = f"tcp://127.0.0.1:{port}"
    assert err[0].startswith(f"trainlab: error: --cluster {address}: no Dask scheduler answers")
    assert "`dask scheduler`" in err[0] and f"`dask worker {address}`" in err[0]
    assert not out.exists()  # a refused command leaves no folder behind
    code = main(["compare", *SHORT, *GRID, "--cluster", "tcp://:x", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "expected a Dask scheduler's address" in err[0]


def test_without_the_extra_cluster_names_its_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    out = tmp_path / "cmp"
    code = main(["compare", *SHORT, *GRID, "--cluster", "127.0.0.1:8786", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "pip install 'trainlab[cluster]'" in err[0]
    assert not out.exists()


class _Killer(threading.Thread):
    """Waits until a run is in flight on ``worker``, freezes the worker (SIGSTOP), and once a run
    is seen unfinished while it is frozen, kills it (SIGKILL) and starts another worker. A run
    that finished in the moment before the freeze: the worker goes on (SIGCONT), and the next
    run is caught instead."""

    def __init__(self, cluster: Cluster, worker: subprocess.Popen, runs: Path):
        super().__init__(daemon=True)
        self.cluster, self.worker, self.runs = cluster, worker, runs
        self.caught: list[Path] = []
        self.replacement: subprocess.Popen | None = None
        self.error: BaseException | None = None

    def in_flight(self) -> list[Path]:
        """Runs part-way: a checkpoint written (last.pt), no summary yet."""
        started = (p.parent for p in self.runs.glob("*/seed-*/last.pt"))
        return [p for p in started if not (p / "summary.json").exists()]

    def run(self) -> None:
        try:
            while not self.caught:
                _wait_for(self.in_flight, self.worker, "a run in flight")
                os.killpg(self.worker.pid, signal.SIGSTOP)
                self.caught = self.in_flight()
                if not self.caught:
                    os.killpg(self.worker.pid, signal.SIGCONT)
            _kill(self.worker)
            self.replacement = self.cluster.start_worker()
        except BaseException as e:  # seen by the test
            self.error = e


@pytest.mark.slow
@pytest.mark.multiprocess
def test_a_killed_workers_unit_runs_again_on_another_and_equals_a_local_run(tmp_path):
    """One worker; while it trains a run it is killed and another started: the scheduler gives
    the lost unit to the new worker, which resumes the run, and every result equals a local
    run's (one run per unit, one thread each, so that nothing but the kill differs)."""
    overrides = [*SHORT, "train.epochs=10", "train.threads=1"]
    variants = grid.parse_vary(["optimizer.lr=0.05,0.1"], None, overrides)

    def tasks(folder):
        return grid.seed_tasks(None, overrides, variants, 1, folder)

    running = Cluster(tmp_path / "cluster")
    try:
        first = running.start_worker()
        local = grid.run_tasks(tasks(tmp_path / "local"), 1, vectorize="off")  # meanwhile
        killer = _Killer(running, first, tmp_path / "remote")
        killer.start()
        threads = set()
        remote = grid.run_tasks(
            tasks(tmp_path / "remote"),
            1,
            lambda *_: threads.add(threading.get_ident()),
            vectorize="off",
            cluster=running.address,
        )
        killer.join(10)
        assert killer.error is None and killer.caught and killer.replacement is not None
        for caught in killer.caught:  # finished by the new worker, the first one being dead
            assert _writer(caught) == killer.replacement.pid
    finally:
        running.close()
    assert threads == {threading.get_ident()}  # delivered in the calling thread
    assert [{k: v for k, v in r.items() if k not in EXCLUDED} for r in remote] == [
        {k: v for k, v in r.items() if k not in EXCLUDED} for r in local
    ]
    for task in tasks(tmp_path / "local"):
        name = Path(task.folder).relative_to(tmp_path / "local")
        assert _run(tmp_path / "remote" / name) == _run(tmp_path / "local" / name)
