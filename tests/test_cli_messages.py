"""What `trainlab train` says at the end: which epoch was tested and whether training stopped
early, and, for a resumed run that had finished, that nothing was written."""

import re

from trainlab.cli import main

from tests.conftest import FAST


def test_stopped_early_and_resuming_a_finished_run(tmp_path, capsys):
    run = tmp_path / "run"
    # a min_delta no epoch reaches: the best epoch stays 1, patience 2 stops after epoch 3
    argv = ["train", *FAST, "train.epochs=30", "early_stopping.patience=2"]
    assert (
        main([*argv, "early_stopping.min_delta=0.9", "--out", str(run), "--progress", "quiet"]) == 0
    )
    first = capsys.readouterr().out.splitlines()
    assert "(stopped early at epoch 3 of 30; best epoch 1, " in first[0]
    assert first[-1] == f"run written to {run}"
    stamp = (run / "summary.json").stat().st_mtime_ns
    assert main(["train", "--resume", str(run)]) == 0
    again = capsys.readouterr().out.splitlines()
    assert again[0] == first[0]
    assert again[-1] == f"{run} had already finished: nothing was trained or written"
    assert (run / "summary.json").stat().st_mtime_ns == stamp
    assert main([*argv[:-2], "train.epochs=2", "--out", str(tmp_path / "b")]) == 0
    assert re.search(r"\((best|last) epoch \d of 2, ", capsys.readouterr().out)
