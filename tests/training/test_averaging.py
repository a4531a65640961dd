"""train.average: Polyak-Ruppert and exponential averages of the iterates (lecture 000 s57),
checked against the averages computed by hand in float64 and torch.optim.swa_utils."""

import copy
import re

import pytest
import torch
from torch import nn
from torch.optim.swa_utils import update_bn

import trainlab
from trainlab import build
from trainlab.config import resolve
from trainlab.errors import UserError
from trainlab.runs import checkpoint
from trainlab.training.averaging import IterateAverage
from trainlab.training.callbacks import Callback

from tests.conftest import FAST
from tests.test_train import assert_same_run, crash_and_resume


def _iterates(kind, start, decay=0.9, steps=12):
    """A float64 linear model trained by SGD on random batches: its iterates after every update,
    and the IterateAverage that saw them."""
    torch.manual_seed(0)
    net = nn.Linear(3, 2).double()
    average = IterateAverage(net, kind, start=start, decay=decay)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    seen = []
    for _ in range(steps):
        x = torch.randn(8, 3, dtype=torch.float64)
        opt.zero_grad()
        net(x).pow(2).mean().backward()
        opt.step()
        average.update(net)
        seen.append(torch.cat([p.detach().flatten().clone() for p in net.parameters()]))
    got = torch.cat([p.flatten() for p in average.averaged.module.parameters()])
    return seen, average, got


def test_polyak_is_the_mean_of_the_iterates_after_the_start():
    seen, average, got = _iterates("polyak", start=4)
    assert average.count == 8
    assert torch.allclose(got, torch.stack(seen[4:]).mean(0), rtol=1e-12, atol=1e-14)


def test_ema_is_the_recurrence_from_the_first_averaged_iterate():
    seen, average, got = _iterates("ema", start=3, decay=0.9)
    want = seen[3]
    for w in seen[4:]:
        want = 0.9 * want + 0.1 * w
    assert torch.allclose(got, want, rtol=1e-12, atol=1e-14)


def test_batch_norm_statistics_of_the_average_equal_update_bn():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 2))
    average = IterateAverage(net, "polyak")
    for _ in range(3):
        with torch.no_grad():
            for p in net.parameters():
                p.add_(0.1 * torch.randn_like(p))
        average.update(net)
    x = torch.randn(40, 4)
    module = average.evaluated(net, x, batch_size=8)  # 5 whole batches
    reference = copy.deepcopy(average.averaged.module)
    update_bn([x[i : i + 8] for i in range(0, 40, 8)], reference)
    for name in ("running_mean", "running_var"):
        assert torch.allclose(getattr(module[1], name), getattr(reference[1], name), atol=1e-6)


class Iterates(Callback):
    """Every iterate of a run, in float64."""

    per_update = True

    def on_fit_start(self, state):
        self.model, self.seen = state.parts.model, []

    def on_update(self):
        self.seen.append([p.detach().double().clone() for p in self.model.parameters()])


AVERAGED = ("train.average=polyak", "train.average_start=2", "train.epochs=4")


def test_a_run_evaluates_and_saves_the_average(tmp_path):
    iterates = Iterates()
    overrides = [*AVERAGED, "early_stopping.restore_best=false"]
    cfg = trainlab.resolve_config(None, overrides, presets=FAST)
    out = tmp_path / "run"
    summary = trainlab.train(cfg, out=out, progress="quiet", callbacks=[iterates])
    per_epoch = len(iterates.seen) // 4
    saved = checkpoint.load(out / "last.pt", "cpu")
    net = trainlab.load_model(out, "last")
    for i, p in enumerate(net.parameters()):
        want = torch.stack([w[i] for w in iterates.seen[2 * per_epoch :]]).mean(0)
        assert torch.allclose(p.double(), want, atol=1e-6)
        # last.pt keeps the iterate to continue from, the last update's weights
        iterate = list(saved["average"]["iterate"].values())[i]
        assert torch.equal(iterate.double(), iterates.seen[-1][i])
    assert summary["average"] == {
        "kind": "polyak",
        "start_update": 2 * per_epoch,
        "updates_averaged": 2 * per_epoch,
    }
    again = trainlab.evaluate(out, "last")
    assert again["test_accuracy"] == summary["test_accuracy"]
    assert again["test_loss"] == pytest.approx(summary["test_loss"], rel=1e-6)


def test_batch_norm_of_the_saved_average_is_recomputed(fast_run):
    _, run = fast_run(*AVERAGED, "train.average=ema", "model.norm=batch", "train.batch_size=40")
    cfg = resolve(run / "config.toml")
    data = build.load_data(cfg)
    net = trainlab.load_model(run, "best")
    reference = copy.deepcopy(net)
    x = data.x_train
    update_bn([x[i : i + 40] for i in range(0, len(x) - len(x) % 40, 40)], reference)
    bn = [m for m in net.modules() if isinstance(m, nn.BatchNorm1d)]
    ref = [m for m in reference.modules() if isinstance(m, nn.BatchNorm1d)]
    assert bn and all(
        torch.allclose(a.running_mean, b.running_mean, atol=1e-5)
        and torch.allclose(a.running_var, b.running_var, atol=1e-5)
        for a, b in zip(bn, ref)
    )


@pytest.mark.parametrize("kind", ["polyak", "ema"])
def test_resume_is_exact_with_an_average(fast_run, monkeypatch, kind):
    extra = (*AVERAGED, f"train.average={kind}", "model.norm=batch", "train.average_start=0.25")
    _, reference = fast_run(*extra)
    crash_and_resume(fast_run, monkeypatch, extra, 3, reference.parent / "crashed")
    assert_same_run(reference, reference.parent / "crashed")


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["train.average=mean"], 'train.average = "mean": expected one of none, polyak, ema'),
        (["train.average_start=0.5", "train.average_decay=0.9"], "only for train.average = ema"),
        (["train.average=polyak", "train.average_decay=0.9"], "only for train.average = ema"),
        (["train.average_start=3"], "only for train.average = polyak or ema"),
        (["train.average=ema", "train.average_start=1.5"], "a whole number of epochs"),
        (["train.average=ema", "train.average_decay=1"], "expected a number in (0, 1)"),
        (["train.average=ema", "train.average_start=30"], "would begin after the last epoch"),
        (["train.average=polyak", "distributed.mode=hogwild"], "one-process training only"),
    ],
)
def test_bad_values_are_one_line(overrides, message):
    with pytest.raises(UserError, match=re.escape(message)):
        resolve(None, overrides)
