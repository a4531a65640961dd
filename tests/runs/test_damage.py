"""Damaged run files, fuzzed: random bytes of any length, single bit flips and truncations at any
point of a real last.pt and best.pt, and damaged config.toml, metrics.jsonl and summary.json.
``train --resume`` and ``evaluate`` end in exit 0, or exit 2 with one line naming the damaged
file, never a traceback and never PyTorch's advice to load without ``weights_only``. Seeded
(random.Random), so every run of the suite tries the same damage."""

from __future__ import annotations

import contextlib
import io
import random
import shutil
from pathlib import Path

import pytest

from trainlab.cli import main

from tests.conftest import FAST


def _damaged(data: bytes, rng: random.Random) -> bytes:
    """One kind of damage: random bytes of any length, a flipped bit, or a cut."""
    kind = rng.choice(["random", "flip", "cut"])
    if kind == "random":
        return rng.randbytes(rng.choice([0, 1, 7, 64, 512, 4096, len(data)]))
    if kind == "flip":
        at = rng.randrange(len(data))
        return data[:at] + bytes([data[at] ^ (1 << rng.randrange(8))]) + data[at + 1 :]
    return data[: rng.randrange(len(data))]


def _cli(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, err.getvalue()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """A finished two-epoch run, then made unfinished (no summary.json) so that --resume reads
    its last.pt."""
    run = tmp_path_factory.mktemp("pristine") / "run"
    code, err = _cli(["train", *FAST, "train.epochs=2", "--out", str(run), "--progress", "quiet"])
    assert code == 0, err
    return run


def _check(code: int, err: str, damaged: Path, case: str) -> None:
    lines = err.strip().splitlines()
    assert code in (0, 2), case
    if code == 2:
        assert len(lines) == 1 and lines[0].startswith("trainlab: error:"), (case, lines)
        assert str(damaged) in lines[0] or damaged.name in lines[0], (case, lines)
        assert "weights_only" not in lines[0], case


@pytest.mark.slow
@pytest.mark.parametrize("name", ["last.pt", "best.pt", "config.toml", "metrics.jsonl"])
def test_damaged_files_are_one_line_naming_them(tmp_path, pristine, name):
    rng = random.Random(name)  # the same damage every run
    original = (pristine / name).read_bytes()
    for k in range(40):
        run = tmp_path / f"run{k}"
        shutil.copytree(pristine, run)
        (run / "summary.json").unlink()
        (run / name).write_bytes(_damaged(original, rng))
        for argv in (
            ["train", "--resume", str(run), "--progress", "quiet"],
            ["evaluate", str(run)],
        ):
            code, err = _cli(argv)
            _check(code, err, run / name, f"{name} case {k}: {argv[0]}")


def test_a_damaged_summary_names_the_file_and_the_way_back(tmp_path, pristine):
    """A finished run's summary.json is damaged: resuming says to delete it, and doing so
    finishes the run again from last.pt with the numbers it had."""
    run = tmp_path / "run"
    shutil.copytree(pristine, run)
    before = _cli(["evaluate", str(run)])
    (run / "summary.json").write_text('{"test_accuracy": 0.9')  # cut short
    code, err = _cli(["train", "--resume", str(run), "--progress", "quiet"])
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "summary.json" in err and "delete" in err
    (run / "summary.json").unlink()
    assert _cli(["train", "--resume", str(run), "--progress", "quiet"])[0] == 0
    assert _cli(["evaluate", str(run)]) == before


def test_a_damaged_last_checkpoint_says_best_is_intact(tmp_path, pristine):
    run = tmp_path / "run"
    shutil.copytree(pristine, run)
    (run / "summary.json").unlink()
    (run / "last.pt").write_bytes(b"")
    code, err = _cli(["train", "--resume", str(run), "--progress", "quiet"])
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "last.pt" in err and "best.pt (the weights of epoch" in err and "evaluate" in err
    assert _cli(["evaluate", str(run)])[0] == 0  # as the line says


def test_a_config_changed_after_the_checkpoint(tmp_path, pristine):
    """An empty config.toml would resolve to the defaults (another model), an edited one to
    another run: the checkpoints record the config they were trained with, so either is one
    line naming config.toml, for resume and evaluate."""
    run = tmp_path / "run"
    shutil.copytree(pristine, run)
    (run / "summary.json").unlink()
    config = (run / "config.toml").read_text()
    for text in ("", config.replace("lr = 0.1", "lr = 0.2")):
        (run / "config.toml").write_text(text)
        for argv in (
            ["train", "--resume", str(run), "--progress", "quiet"],
            ["evaluate", str(run)],
        ):
            code, err = _cli(argv)
            assert code == 2 and len(err.strip().splitlines()) == 1, err
            assert "config.toml' is not the config" in err and "damaged or edited" in err


@pytest.mark.slow
@pytest.mark.parametrize(
    "command, damaged",
    [
        (
            ["compare", *FAST, "train.epochs=1", "--vary", "optimizer.lr=0.05,0.1", "--seeds", "1"],
            "runs/optimizer.lr=0.05/seed-0/summary.json",
        ),
        (["compare", *FAST, "train.epochs=1", "--vary", "optimizer.lr=0.05"], "compare.json"),
        (["search", *FAST, "train.epochs=1", "--grid", "optimizer.lr=0.05,0.1"], "study.db"),
        (["claims", "--only", "bn-variance-unbiased", "--seeds", "1"], "claims-manifest.json"),
        (
            ["claims", "--only", "bn-variance-unbiased", "--seeds", "1"],
            "bn-variance-unbiased-*/seed-0/result.json",
        ),
    ],
)
def test_continuing_an_experiment_with_a_damaged_file_names_it(tmp_path, command, damaged):
    """compare, search and claims continued over a damaged file of theirs: one line naming it,
    exit 2; after deleting it as the line says, the command completes."""
    out = tmp_path / "exp"
    one = ["--seeds" if command[0] == "search" else "--jobs", "1", "--out", str(out)]
    code, err = _cli([*command, *one])
    assert code == 0, err
    path = next(out.glob(damaged))  # a claim's folder name ends in its digest
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 3])
    code, err = _cli([*command, *one])
    lines = err.strip().splitlines()
    assert code == 2 and lines[-1].startswith("trainlab: error:"), err
    assert path.name in lines[-1] and "Traceback" not in err
    if "delete" in lines[-1]:
        path.unlink()
        code, err = _cli([*command, *one])
        assert code == 0, err
