"""schedule.every: a schedule stepped after every update (its constants counted in updates) or
after every epoch, checked against the formulas computed by hand in float64."""

import csv
import json
import math

import pytest
import torch

from trainlab import build
from trainlab.config import resolve
from trainlab.errors import UserError
from trainlab.training.schedules import Schedule

from tests.test_train import assert_same_run, crash_and_resume

EPOCHS, UPDATES = 5, 7


def _course(overrides, epochs=EPOCHS, updates=UPDATES):
    """The rate of every update and the rate at the start of every epoch, lr0 = 0.3."""
    cfg = resolve(None, [f"train.epochs={epochs}", "optimizer.lr=0.3", *overrides])
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.3)
    s = build.schedule(cfg, opt, updates)
    per_update, per_epoch = [], []
    for _ in range(epochs):
        per_epoch.append(opt.param_groups[0]["lr"])
        for _ in range(updates):
            per_update.append(opt.param_groups[0]["lr"])
            opt.step()
            if s.acts_per_update:  # as the training step calls it
                s.after_update()
        s.after_epoch({"val_accuracy": 0.5, "val_loss": 1.0})
    assert s.rates == (per_update if s.acts_per_update else [])
    return per_update, per_epoch


K = range(EPOCHS * UPDATES)  # the update count k = 0, 1, ...


def test_inverse_time_per_update_is_robbins_monro():
    # eta_k = eta_0 / (1 + decay k): sum eta = inf, sum eta^2 < inf (lecture 000 s49-56, 002)
    rates, _ = _course(
        ["schedule.name=inverse_time", "schedule.decay=0.25", "schedule.every=update"]
    )
    assert rates == pytest.approx([0.3 / (1.0 + 0.25 * k) for k in K], rel=1e-12)


def test_step_exponential_linear_per_update_count_in_updates():
    rates, _ = _course(
        [
            "schedule.name=step",
            "schedule.step_size=4",
            "schedule.gamma=0.5",
            "schedule.every=update",
        ]
    )
    assert rates == pytest.approx([0.3 * 0.5 ** (k // 4) for k in K], rel=1e-12)
    rates, _ = _course(["schedule.name=exponential", "schedule.gamma=0.9", "schedule.every=update"])
    assert rates == pytest.approx([0.3 * 0.9**k for k in K], rel=1e-9)
    rates, _ = _course(
        [
            "schedule.name=linear",
            "schedule.end_factor=0.1",
            "schedule.decay_epochs=10",  # counted in updates
            "schedule.every=update",
        ]
    )
    assert rates == pytest.approx([0.3 * (1 - 0.9 * min(k, 10) / 10) for k in K], rel=1e-9)


def test_per_epoch_is_todays_rule_and_cosine_can_step_per_epoch():
    rates, epoch_rates = _course(["schedule.name=inverse_time", "schedule.decay=0.25"])
    assert epoch_rates == pytest.approx([0.3 / (1 + 0.25 * e) for e in range(EPOCHS)], rel=1e-12)
    assert rates == [r for r in epoch_rates for _ in range(UPDATES)]
    # cosine per epoch: T = the epochs, constant within each
    rates, epoch_rates = _course(["schedule.name=cosine", "schedule.every=epoch"])
    assert epoch_rates == pytest.approx(
        [0.15 * (1 + math.cos(math.pi * e / EPOCHS)) for e in range(EPOCHS)], rel=1e-9
    )
    assert rates == [r for r in epoch_rates for _ in range(UPDATES)]
    # one_cycle per epoch: from lr / 25 up to lr (30% of the epochs), then down to ~0
    _, epoch_rates = _course(["schedule.name=one_cycle", "schedule.every=epoch"], epochs=10)
    assert epoch_rates[0] == pytest.approx(0.3 / 25) and max(epoch_rates) == pytest.approx(0.3)
    assert epoch_rates.index(max(epoch_rates)) == 2 and epoch_rates[-1] < 1e-3


def test_warmup_then_inverse_time_per_update():
    rates, _ = _course(
        [
            "schedule.name=inverse_time",
            "schedule.decay=0.5",
            "schedule.every=update",
            "schedule.warmup_epochs=1",
        ]
    )
    warm = [0.3 * (k + 1) / UPDATES for k in range(UPDATES)]
    after = [0.3 / (1 + 0.5 * k) for k in range(len(K) - UPDATES)]
    assert rates == pytest.approx(warm + after, rel=1e-9)


def test_state_dict_round_trip_keeps_the_course():
    def make():
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        return opt, Schedule(
            opt, "inverse_time", updates_per_epoch=3, epochs=4, decay=0.5, every="update"
        )

    opt, s = make()
    for _ in range(5):
        opt.step()
        s.after_update()
    opt2, s2 = make()
    opt2.load_state_dict(opt.state_dict())
    s2.load_state_dict(s.state_dict())
    for a, b in ((opt, s), (opt2, s2)):
        for _ in range(4):
            a.step()
            b.after_update()
    assert s2.rates == s.rates == pytest.approx([1 / (1 + 0.5 * k) for k in range(9)])


def test_bad_values_are_one_line():
    with pytest.raises(UserError, match='schedule.every = "hourly": expected one of'):
        resolve(None, ["schedule.every=hourly"])
    with pytest.raises(UserError, match="plateau watches a validation metric"):
        resolve(None, ["schedule.name=plateau", "schedule.every=update"])
    with pytest.raises(UserError, match="needs at least 6 epochs"):
        resolve(None, ["schedule.every=epoch", "train.epochs=3"])
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    with pytest.raises(ValueError, match="every"):
        Schedule(opt, "step", updates_per_epoch=2, step_size=1, gamma=0.5, every="month")


EVERY_UPDATE = (
    "schedule.name=inverse_time",
    "schedule.decay=0.05",
    "schedule.every=update",
    "train.epochs=4",
)


def test_a_run_writes_every_updates_rate_and_resumes_exactly(fast_run, monkeypatch):
    summary, run = fast_run(*EVERY_UPDATE)
    rows = list(csv.DictReader((run / "lr_updates.csv").open()))
    per_epoch = len(rows) // 4
    assert [int(r["update"]) for r in rows] == list(range(1, len(rows) + 1))
    assert [float(r["lr"]) for r in rows] == pytest.approx(
        [0.1 / (1 + 0.05 * k) for k in range(len(rows))], rel=1e-12
    )
    # metrics.jsonl keeps the rate at the start of each epoch
    import json

    lrs = [json.loads(line)["lr"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert lrs == [float(rows[e * per_epoch]["lr"]) for e in range(4)]
    crash_and_resume(fast_run, monkeypatch, EVERY_UPDATE, 2, run.parent / "crashed")
    assert_same_run(run, run.parent / "crashed")
    assert (run / "lr_updates.csv").read_text() == (
        run.parent / "crashed" / "lr_updates.csv"
    ).read_text()


def test_diagnose_draws_the_rate_of_every_update(fast_run, capsys):
    from trainlab.analysis import rates
    from trainlab.cli import main

    _, run = fast_run(*EVERY_UPDATE, "diagnostics=true")
    assert main(["diagnose", str(run)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"open: {run / 'diagnostics.png'}"
    assert (run / "lr_updates.png").stat().st_size > 0
    fig = rates.plot(run / "lr_updates.csv", run / "again.png")
    (line,) = fig.axes[0].get_lines()[:1]
    k = range(len(line.get_ydata()))
    assert list(line.get_ydata()) == pytest.approx([0.1 / (1 + 0.05 * i) for i in k], rel=1e-12)


def test_tensorboard_gets_the_rate_of_every_update(fast_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, run = fast_run(*EVERY_UPDATE, "logging.tensorboard=true")
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    rows = list(csv.DictReader((run / "lr_updates.csv").open()))
    scalars = events.Scalars("lr_update")
    assert [s.step for s in scalars] == [int(r["update"]) for r in rows]
    assert [s.value for s in scalars] == pytest.approx([float(r["lr"]) for r in rows], rel=1e-6)


def test_a_constant_rate_stepped_per_update_stays_constant(fast_run):
    """schedule.every = update with the constant schedule (as --plain gives it): nothing to
    step, the rate of every epoch is the one asked for."""
    summary, run = fast_run("schedule.name=constant", "schedule.every=update", "optimizer.lr=0.05")
    rates = {json.loads(line)["lr"] for line in (run / "metrics.jsonl").read_text().splitlines()}
    assert rates == {0.05}
