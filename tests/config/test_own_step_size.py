"""Rprop sets its own step sizes (optimizer.lr is only Delta_0): a schedule, a warm-up or lr-find
would act on nothing after the first update, so they are refused in one line; QuickProp's rate
scales its gradient term on every step, so they apply to it."""

import pytest

from trainlab.cli import main
from trainlab.config import resolve
from trainlab.errors import UserError
from trainlab.optim import OPTIMIZERS


def test_only_rprop_sets_its_own_step_sizes():
    assert OPTIMIZERS.names(own_step_size=True) == ("rprop",)


def test_rprop_trains_at_a_constant_rate_and_refuses_a_schedule():
    assert resolve(None, ["optimizer.name=rprop"]).schedule.name == "constant"
    with pytest.raises(UserError, match="sets its own step sizes"):
        resolve(None, ["optimizer.name=rprop", "schedule.name=cosine"])
    with pytest.raises(UserError, match="schedule.warmup_epochs = 1"):
        resolve(None, ["optimizer.name=rprop", "schedule.warmup_epochs=1"])
    assert resolve(None, ["optimizer.name=quickprop"]).schedule.name == "one_cycle"


def test_lr_find_refuses_rprop_in_one_line(capsys, tmp_path):
    for method in ("range", "halving"):
        code = main(["lr-find", "optimizer.name=rprop", "--method", method, "--out", str(tmp_path)])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and "there is no rate to find" in err[0]
