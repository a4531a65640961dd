"""optimizer.name = momentum or nesterov is SGD with momentum 0.9 (Nesterov's for nesterov)
unless the momentum is given; a given option the alias would change is refused, never replaced."""

import pytest

from trainlab.cli import main
from trainlab.config import resolve
from trainlab.errors import UserError


def test_the_alias_keeps_a_given_momentum_and_refuses_zero():
    c = resolve(None, ["optimizer.name=momentum"])
    assert (c.optimizer.name, c.optimizer.momentum, c.optimizer.nesterov) == ("sgd", 0.9, False)
    c = resolve(None, ["optimizer.name=nesterov", "optimizer.momentum=0.5"])
    assert (c.optimizer.name, c.optimizer.momentum, c.optimizer.nesterov) == ("sgd", 0.5, True)
    with pytest.raises(UserError, match=r"optimizer.momentum = 0.0: optimizer.name = 'momentum'"):
        resolve(None, ["optimizer.name=momentum", "optimizer.momentum=0"])
    with pytest.raises(UserError, match="optimizer.nesterov = false"):
        resolve(None, ["optimizer.name=nesterov", "optimizer.nesterov=false"])
    # a preset (the caller's own default) is not the user's choice: the alias rewrites it
    c = resolve(None, ["optimizer.name=momentum"], presets=["optimizer.momentum=0"])
    assert c.optimizer.momentum == 0.9


def test_the_command_refuses_it_in_one_line(capsys):
    assert main(["train", "optimizer.name=momentum", "optimizer.momentum=0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "means momentum = 0.9" in err[0]
