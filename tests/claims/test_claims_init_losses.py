"""Claims about losses, initialization and pretraining, against references no claim code
computes: functional networks differentiated by torch.func, hand arithmetic, NumPy."""

import numpy as np
import pytest
import torch
from torch.func import grad

from trainlab.claims.catalogue_architecture import arm_result, last_train_error, mnist1d_npz
from trainlab.claims.catalogue_init import (
    analyze_freeze_small,
    measure_equal_gradients,
    measure_zero_init,
)
from trainlab.claims.catalogue_losses import CHANCE_ERROR, training_error_area
from trainlab.data.mnist1d import read_mnist1d


def _hinge_net(params, x, y):
    """Lecture 001's net written out: z_j = x W_j + W_0j, z = sum_j relu(z_j) V_j + V_0,
    Loss = max(0, 1 - y z)."""
    w, w0, v, v0 = params
    z = torch.relu(x @ w + w0) @ v + v0
    return torch.clamp(1 - y * z, min=0)


def test_zero_init_lecture_001_gradients_by_torch_func():
    # the lecture's updates at W = 0: V_j and W_ij get 0, only V_0 gets -y
    zeros = (torch.zeros(2, 5), torch.zeros(5), torch.zeros(5), torch.zeros(()))
    g = grad(_hinge_net)(zeros, torch.tensor([0.3, -1.2]), torch.tensor(1.0))
    assert all(t.abs().max() == 0 for t in g[:3]) and g[3].item() == -1.0
    r = measure_zero_init(0, hidden=4, steps=20, lr=0.1)
    assert r["grad_weights"] == r["W"] == r["V"] == r["W0"] == 0.0 and r["V0"] > 0


def test_zero_init_sigmoid_units_stay_equal():
    # torch.func on a sigmoid net with equal hidden units: equal rows of the gradient
    def loss(params, x, y):
        w, v = params
        return torch.nn.functional.cross_entropy(torch.sigmoid(x @ w) @ v, y)

    # every hidden unit with the same (zero) incoming and the same outgoing weights
    w = torch.zeros(2, 3, dtype=torch.float64)
    v = torch.tensor([[0.7, -0.3]] * 3, dtype=torch.float64)
    x, y = torch.randn(8, 2, dtype=torch.float64), torch.randint(2, (8,))
    gw, _ = grad(loss)((w, v), x, y)
    assert torch.equal(gw[:, 0], gw[:, 1]) and gw.abs().max() > 0
    r = measure_equal_gradients(0, hidden=4, steps=20, lr=0.5)
    assert r["spread"] <= 1e-12 and r["moved"] > 0


def test_training_error_area_by_hand():
    epochs = [{"train_accuracy": 0.5}, {"train_accuracy": 0.8}]
    assert training_error_area(epochs, 2) == pytest.approx((0.5 + 0.2) / 2)
    # a run that diverged after one epoch: the missing epochs count as chance
    assert training_error_area(epochs[:1], 3) == pytest.approx((0.5 + 2 * CHANCE_ERROR) / 3)
    assert training_error_area([{"train_accuracy": float("nan")}], 1) == CHANCE_ERROR


def test_mnist1d_npz_splits_disjoint_and_relabelled(tmp_path):
    path = mnist1d_npz(str(tmp_path), "t", [5, 6, 7, 8, 9], 50, 20, seed=3)
    d = np.load(path)
    assert len(d["x"]) == 50 and len(d["x_val"]) == 20
    assert set(d["y"]) <= set(range(5)) and set(d["y_test"]) == set(range(5))
    rows = {r.tobytes() for r in d["x"]}
    assert not rows & {r.tobytes() for r in d["x_val"]}
    source = read_mnist1d()
    assert (d["y_test"] == source.y_test[source.y_test >= 5] - 5).all()


def test_freeze_non_inferiority_direction():
    # fine-tuned error - frozen error per seed: (0.01, 0.03, 0.02, 0.02); mean 0.02 > -delta
    res = [
        {"frozen": {"test_error": f}, "fine-tuned": {"test_error": f + d}}
        for f, d in ((0.3, 0.01), (0.2, 0.03), (0.25, 0.02), (0.28, 0.02))
    ]
    v = analyze_freeze_small(res, {"delta": 0.02})
    assert v.estimate == pytest.approx(np.mean([0.01, 0.03, 0.02, 0.02]))
    assert v.kind == "holds"
    worse = [
        {
            "frozen": {"test_error": r["fine-tuned"]["test_error"] + 0.2},
            "fine-tuned": r["fine-tuned"],
        }
        for r in res
    ]
    assert analyze_freeze_small(worse, {"delta": 0.02}).kind == "does not hold"


def test_arm_result_counts_a_diverged_run_as_error_one():
    summary = {"best_val_accuracy": None, "test_accuracy": None, "parameters": 7}
    curve = [{"train_accuracy": 0.75}, {"train_accuracy": float("nan")}]
    arm = arm_result(summary, curve, 0.1)
    assert arm["val_error"] == arm["test_error"] == 1.0 and arm["train_error"][0] == 0.25
    assert last_train_error(arm, 1) == 0.25
    assert last_train_error(arm, 2) == 1.0  # not a number in the last epoch
    assert last_train_error(arm, 3) == 1.0  # never reached
