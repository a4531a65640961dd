"""Two runs trained alike: the same epochs, metrics within ``tolerance``, and final weights
(``last.pt``) within ``tolerance``; used by the distributed modes' tests against one process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch


def assert_same_training(a: Path, b: Path, tolerance: float) -> None:
    rows = [
        [json.loads(line) for line in (r / "metrics.jsonl").read_text().splitlines()]
        for r in (a, b)
    ]
    assert [r["epoch"] for r in rows[0]] == [r["epoch"] for r in rows[1]]
    for x, y in zip(*rows):
        for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"):
            assert x[key] == pytest.approx(y[key], abs=tolerance), key
    wa, wb = (torch.load(r / "last.pt", weights_only=True)["model"] for r in (a, b))
    assert wa.keys() == wb.keys()
    for key in wa:
        torch.testing.assert_close(wb[key], wa[key], atol=tolerance, rtol=0)
