import json
import subprocess
import sys
import tomllib

import numpy as np
import pytest

from trainlab.cli import main
from trainlab.config import SCHEMA

from tests.conftest import FAST


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_train_evaluate_and_resume_of_a_finished_run(capsys, tmp_path):
    code, out, err = run_cli(
        capsys, "train", *FAST, "--out", str(tmp_path / "r"), "--progress", "lines"
    )
    assert code == 0
    assert out.splitlines()[0].startswith("test accuracy ") and str(tmp_path / "r") in out
    assert err.count("epoch ") == 4  # a line per epoch when not a terminal
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    code, out, _ = run_cli(capsys, "evaluate", str(tmp_path / "r"))
    assert code == 0 and f"test accuracy {summary['test_accuracy']:.4f}" in out
    code, out, _ = run_cli(capsys, "train", "--resume", str(tmp_path / "r"))
    assert code == 0 and f"test accuracy {summary['test_accuracy']:.4f}" in out


def test_config_file_then_overrides(capsys, tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('[optimizer]\nname = "sgd"\nlr = 0.3\n')
    code, out, _ = run_cli(capsys, "config", str(f), "optimizer.lr=0.2")
    assert code == 0 and 'name = "sgd"' in out and "lr = 0.2" in out


def test_help_and_config_document_every_key(capsys):
    assert main(["train", "--help"]) == 0
    help_text = capsys.readouterr().out
    code, config_text, _ = run_cli(capsys, "config")
    for name, key in SCHEMA.items():
        assert name in help_text and key.meaning in config_text


@pytest.mark.parametrize(
    "argv, words",
    [
        (["train", "optimizer.lr=-1"], ["optimizer.lr = -1.0", "> 0"]),
        (["train", "optimizr.lr=0.1"], ["did you mean optimizer.lr"]),
        (["train", "missing.toml"], ["'missing.toml' does not exist"]),
        (["train", "a=1", "stray"], ["unexpected argument 'stray'"]),
        (["train", "--resume", "nowhere"], ["'nowhere' is not a folder"]),
        (["train", "data.name=csv", "data.path=nope.csv"], ["data.path 'nope.csv' does not exist"]),
        (["evaluate", "nowhere"], ["is not a folder"]),
        (["config", "model.name=transformer"], ["model.name", "cnn1d"]),
        (["config", "optimizer.name=Adam"], ["did you mean adam?"]),
        (["config", "seed=9223372036854775808"], ["seed", "64 bits"]),
        (["config", "seed=-1"], ["seed = -1", "from 0 to 9223372036854775807"]),
        (["config", "model.hidden=[100000000000000000000]"], ["within 64 bits"]),
        (["train", "train.threads=100000"], ["train.threads = 100000", "cores"]),
        (["train", "distributed.mode=hogwild", "distributed.workers=5000"], ["5000", "cores"]),
        (["evaluate", "x", "--checkpoint", "nope"], ["invalid choice: 'nope'", "--help"]),
        (["compare", "--seeds", "18446744073709551616"], ["--seeds", "from 1 to"]),
        (["lr-find", "--end-lr", "inf"], ["--end-lr", "finite"]),
    ],
)
def test_user_errors_are_one_line_and_exit_2(capsys, argv, words, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("trainlab: error: ")
    for w in words:
        assert w in err


def test_resume_rules(capsys, tmp_path):
    (tmp_path / "notarun").mkdir()
    code, _, err = run_cli(capsys, "train", "--resume", str(tmp_path / "notarun"))
    assert code == 2 and "not a trainlab run" in err
    code, _, err = run_cli(capsys, "train", "--resume", str(tmp_path), "optimizer.lr=1")
    assert code == 2 and "takes no config" in err


@pytest.mark.multiprocess
def test_a_real_process_prints_no_traceback(tmp_path):
    f = tmp_path / "labels.npz"
    np.savez(
        f,
        x=np.zeros((20, 3)),
        y=np.arange(20) % 12,
        x_test=np.zeros((5, 3)),
        y_test=np.array([0, 1, 2, 3, 40]),
    )
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "trainlab",
            "train",
            "data.name=npz",
            f"data.path={f}",
            "--out",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 2
    assert p.stderr == (
        f"trainlab: error: {f}: y_test holds label 40, but the training labels are 0..11\n"
    )
    assert not (tmp_path / "r").exists()


def test_a_config_file_in_a_folder_named_with_an_equals_sign(tmp_path, capsys):
    """A compare run lives in runs/<variant>/seed-k, e.g. optimizer.name=adam/seed-0: its
    config.toml is read as a file, not as an override."""
    folder = tmp_path / "optimizer.name=sgd" / "seed-0"
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text('[optimizer]\nname = "sgd"\n')
    assert main(["config", str(folder / "config.toml"), "optimizer.lr=0.5"]) == 0
    out = capsys.readouterr().out
    assert 'name = "sgd"' in out and "lr = 0.5" in out


def test_overrides_may_follow_the_flags(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "train",
            "data.name=moons",
            "model.name=mlp",
            "--progress",
            "quiet",
            "model.hidden=[4]",
            "--out",
            str(out),
            "train.epochs=1",
            "model.norm=none",
        ]
    )
    assert code == 0
    config = tomllib.loads((out / "config.toml").read_text())
    assert config["model"]["hidden"] == [4] and config["train"]["epochs"] == 1
    # anything else is still an error: here a config file that does not exist
    assert main(["train", "--progress", "quiet", "not-a-file.toml"]) == 2


def test_a_toml_file_with_a_byte_order_mark_reads(capsys, tmp_path):
    f = tmp_path / "bom.toml"
    f.write_bytes(b"\xef\xbb\xbfseed = 7\n")  # as some Windows editors save UTF-8
    code, out, _ = run_cli(capsys, "config", str(f))
    assert code == 0 and tomllib.loads(out)["seed"] == 7


@pytest.mark.parametrize(
    "name", ["with space", 'quote\'s "double"', "ünï-çødé", "optimizer.name=adam"]
)
def test_odd_names_for_run_folders_and_data_work_end_to_end(tmp_path, capsys, name):
    """Spaces, quotes, non-ASCII letters and '=' in the run folder and the data file's path:
    train, evaluate, resume, and train <run>/config.toml re-creating the run."""
    folder = tmp_path / name
    folder.mkdir()
    data = folder / f"{name}.csv"
    rows = [
        f"{a:.3f},{b:.3f},{int(a > b)}" for a, b in np.random.default_rng(0).normal(size=(60, 2))
    ]
    data.write_text("a,b,label\n" + "\n".join(rows) + "\n")
    run = folder / "run"
    args = [*FAST[2:], "data.name=csv", f"data.path={data}", "--progress", "quiet"]
    code, out, err = run_cli(capsys, "train", *args, "--out", str(run))
    assert code == 0, err
    assert run_cli(capsys, "evaluate", str(run))[0] == 0
    assert run_cli(capsys, "train", "--resume", str(run))[0] == 0
    again = folder / "again"
    code, _, err = run_cli(capsys, "train", str(run / "config.toml"), "--out", str(again))
    assert code == 0, err
    first, second = (json.loads((r / "summary.json").read_text()) for r in (run, again))
    assert first["test_loss"] == second["test_loss"]


def test_run_files_follow_the_umask(tmp_path, capsys):
    """Files are created with the user's umask (group-readable under 022), not mkstemp's
    0600, so that a run on a shared disk can be read by the group as the user's other files."""
    import os

    old = os.umask(0o022)
    try:
        from trainlab.runs import atomic

        atomic._umask.cache_clear()
        assert run_cli(capsys, "train", *FAST, "--out", str(tmp_path / "r"))[0] == 0
    finally:
        os.umask(old)
        atomic._umask.cache_clear()
    for name in ("config.toml", "last.pt", "best.pt", "summary.json", "metrics.jsonl"):
        assert (tmp_path / "r" / name).stat().st_mode & 0o777 == 0o644, name


def test_evaluate_a_regression_run_prints_its_mean_squared_error(tmp_path, capsys):
    run = tmp_path / "r"
    args = ["data.name=adding", "data.samples=40", "data.seq_len=5", "model.name=lstm"]
    code, _, err = run_cli(capsys, "train", *args, "train.epochs=1", "--out", str(run))
    assert code == 0, err
    code, out, _ = run_cli(capsys, "evaluate", str(run))
    summary = json.loads((run / "summary.json").read_text())
    assert code == 0 and out.startswith(f"test mse {summary['test_loss']:.4f}  (best checkpoint")


def test_regression_grids_report_diverged_runs_and_their_mse(tmp_path, capsys):
    """A regression comparison whose runs diverge in their first epoch (no test score), and a
    regression search (no accuracy): exit 0 with their lines, not a format error."""
    data = ["data.name=adding", "data.samples=60", "data.seq_len=5", "model.name=lstm"]
    code, _, err = run_cli(
        capsys, "compare", *data, "train.epochs=1", "optimizer.name=sgd",
        "--vary", "optimizer.lr=1e30", "--seeds", "1", "--jobs", "1", "--out", str(tmp_path / "c"),
    )  # fmt: skip
    assert code == 0 and "seed 0: diverged" in err
    code, out, err = run_cli(
        capsys, "search", *data, "train.epochs=1", "--grid", "optimizer.lr=0.01,0.02",
        "--out", str(tmp_path / "s"),
    )  # fmt: skip
    assert code == 0, err
    assert "evaluated once on the test split: test mse " in out
