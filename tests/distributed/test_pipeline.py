"""distributed.mode = pipeline: a minibatch's gradients through the stages equal one process's,
training equals one-process training, an interrupted run resumes, a lost stage is a clear error,
and a model that cannot be split is refused (exit 2). Every test checks that no stage process
is left."""

import json
import multiprocessing
import os
import signal
import subprocess
import sys

import pytest
import torch

import trainlab
from trainlab import build
from trainlab.config import resolve
from trainlab.distributed import pipeline
from trainlab.errors import UserError

from tests import same_training

pytestmark = pytest.mark.cpu_only(
    "the pipeline mode runs on the CPU; with device = auto on a GPU machine the data is on "
    "CUDA and the mode refuses it"
)

MOONS = [
    "data.name=moons",
    "data.samples=401",
    "model.dropout=0",
    "train.batch_size=24",
    "train.checkpoint_seconds=0",
]
MLP = MOONS + ["model.name=mlp", "model.hidden=[16,16,8]", "model.norm=none"]
TOLERANCE = 1e-6  # measured: gradients agree to 1.5e-7, weights after training to 6e-8


@pytest.fixture(autouse=True)
def no_stage_left():
    yield
    left = multiprocessing.active_children()
    for p in left:
        p.kill()
    assert left == []


def pipeline_gradients(overrides: list[str]) -> tuple[dict, dict]:
    """(one process's, the pipeline's) gradients of one minibatch of 23 samples."""
    config = resolve(None, overrides + ["distributed.mode=pipeline"])
    splits = build.load_data(config, "cpu")
    x, y = splits.x_train[:23], splits.y_train[:23]
    reference = build.parts(config, splits)
    reference.step.compute_gradients(x, y)
    want = {k: p.grad for k, p in reference.model.named_parameters()}
    parts = build.parts(config, splits)
    plan = pipeline.make_plan(parts.model, config, splits.x_train[:2])
    with pipeline.Pipeline(config, splits, parts, plan) as pipe:
        pipe.push(parts.model, None)
        got = pipe.gradients(x, y)
        pipe.stop()
    return want, got


@pytest.mark.multiprocess
@pytest.mark.parametrize(
    "overrides",
    [
        MLP + ["distributed.workers=3", "distributed.micro_batches=4", "regularization.l2=0.01"],
        MOONS
        + [
            "model.name=cnn1d",
            "model.channels=[4,4]",
            "model.norm=layer",
            "distributed.workers=2",
            "distributed.micro_batches=5",
            "regularization.l1=0.01",
        ],
    ],
    ids=["mlp-3-stages", "cnn1d-2-stages"],
)
def test_minibatch_gradients_equal_one_process(overrides):
    want, got = pipeline_gradients(overrides)
    assert want.keys() == got.keys()
    for key in want:
        torch.testing.assert_close(got[key], want[key], atol=TOLERANCE, rtol=0)


TRAIN = MLP + [
    "optimizer.name=adam",
    "optimizer.lr=0.01",
    "schedule.name=cosine",
    "regularization.l2=0.01",
    "train.epochs=3",
]
PIPE = ["distributed.mode=pipeline", "distributed.workers=3"]


def assert_same_training(a, b) -> None:
    """Metrics and final weights agree to float rounding."""
    same_training.assert_same_training(a, b, TOLERANCE)


@pytest.mark.multiprocess
def test_training_equals_one_process(tmp_path):
    trainlab.train(None, TRAIN, out=tmp_path / "one", progress="quiet")
    summary = trainlab.train(None, TRAIN + PIPE, out=tmp_path / "pipe", progress="quiet")
    assert_same_training(tmp_path / "one", tmp_path / "pipe")
    d = summary["distributed"]
    assert d["mode"] == "pipeline" and d["stages"] == 3 and d["micro_batches"] == 4
    assert d["parameters_per_stage"] == [48, 272, 154]  # 2*16+16 | 16*16+16 | 16*8+8 + 8*2+2
    assert sum(d["parameters_per_stage"]) == summary["parameters"]
    assert json.loads((tmp_path / "pipe" / "summary.json").read_text()) == summary


class Interrupt(Exception):
    pass


@pytest.mark.multiprocess
def test_interrupted_run_resumes(tmp_path):
    def stop_after_epoch_2(metrics):  # before epoch 2's checkpoint: last.pt holds epoch 1
        if metrics["epoch"] == 2:
            raise Interrupt

    run = tmp_path / "pipe"
    with pytest.raises(Interrupt):
        trainlab.train(None, TRAIN + PIPE, out=run, progress="quiet", on_epoch=stop_after_epoch_2)
    assert multiprocessing.active_children() == []
    assert torch.load(run / "last.pt", weights_only=True)["epoch"] == 1
    summary = trainlab.resume(run, progress="quiet")
    assert summary["epochs_run"] == 3
    trainlab.train(None, TRAIN, out=tmp_path / "one", progress="quiet")
    assert_same_training(tmp_path / "one", run)


@pytest.mark.multiprocess
def test_lost_stage_is_a_clear_error(tmp_path):
    def kill_a_stage(metrics):
        if metrics["epoch"] == 1:
            os.kill(multiprocessing.active_children()[0].pid, signal.SIGKILL)

    with pytest.raises(UserError, match=r"pipeline stage \d \(exit code -9\) lost.*--resume"):
        trainlab.train(
            None, TRAIN + PIPE, out=tmp_path / "pipe", progress="quiet", on_epoch=kill_a_stage
        )
    assert (tmp_path / "pipe" / "last.pt").exists()


@pytest.mark.multiprocess
def test_model_that_cannot_be_split_exits_2(tmp_path):
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "trainlab",
            "train",
            *MOONS,
            "model.name=mlp",
            "model.hidden=[16]",
            "distributed.mode=pipeline",
            "distributed.workers=3",
            "--out",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 2
    assert p.stderr.strip() == (
        "trainlab: error: distributed.workers = 3 pipeline stages, but model.name = 'mlp' has "
        "2 layers with weights (Linear, Linear); each stage needs one (use at most 2 stages, "
        "or a deeper model)"
    )


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["model.name=gru", "model.hidden=[8]"], "recurrent"),
        (["model.name=mlp", "model.hidden=[8,8]", "loss.aux_weight=0.3"], "auxiliary heads"),
        (["model.name=mlp", "optimizer.name=newton"], "Hessian"),
        (["model.name=mlp", "gradient_clip.max_norm=1"], "global norm"),
        (["model.name=mlp", "data.name=adding", "loss.name=mse"], "regression task"),
    ],
)
def test_what_a_pipeline_refuses(tmp_path, overrides, message):
    with pytest.raises(UserError, match=message):
        trainlab.train(None, MOONS + overrides + PIPE[:1], out=tmp_path / "run", progress="quiet")


def test_balance_minimizes_the_largest_stage():
    assert pipeline.balance([5, 1, 1, 1, 5], 3) == [0, 1, 4]
    assert pipeline.balance([1, 1, 1, 1], 2) == [0, 2]
    assert pipeline.balance([10, 1, 1, 1], 2) == [0, 1]
    assert pipeline.micro_sizes(23, 4, 1) == [6, 6, 6, 5]
    assert pipeline.micro_sizes(3, 4, 2) == [3]  # batch norm: no micro-batch of 1
