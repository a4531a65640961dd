"""Monte Carlo dropout (lecture 003 s79) beside the deterministic test-time rule: checked against
a hand loop of N passes in float64 and the deterministic rule when nothing is dropped."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import trainlab
from trainlab import build
from trainlab.cli import main
from trainlab.config import resolve
from trainlab.errors import UserError
from trainlab.models.layers import OriginalDropout
from trainlab.training import mc_dropout


def _hand_mean(net, x, passes, seed):
    """N passes by hand: every dropout layer in training mode, the rest in evaluation mode,
    the softmax of each pass summed in float64."""
    net.eval()
    for m in net.modules():
        if isinstance(m, (nn.Dropout, OriginalDropout)):
            m.train()
    torch.manual_seed(seed)
    total = torch.zeros(len(x), 2, dtype=torch.float64)
    with torch.no_grad():
        for _ in range(passes):
            total += F.softmax(net(x), dim=1).double()
    net.eval()
    return total / passes


@pytest.mark.parametrize("mode", ["inverted", "original"])
def test_the_mc_mean_is_a_hand_loop_of_n_passes(fast_run, mode):
    _, run = fast_run("model.dropout=0.3", f"model.dropout_mode={mode}", "model.hidden=[32,32]")
    cfg = resolve(run / "config.toml")
    data = build.load_data(cfg)
    net = trainlab.load_model(run)
    assert len(mc_dropout.dropout_layers(net)) == 2
    want = _hand_mean(net, data.x_test, 7, seed=cfg.seed)
    got = mc_dropout.predict(net, data.x_test, 7, seed=cfg.seed)
    assert torch.allclose(got.double(), want, atol=1e-6)
    r = trainlab.evaluate(run, mc_dropout=7)
    mc = r["mc_dropout"]
    assert mc["test_accuracy"] == (want.argmax(1) == data.y_test).double().mean().item()
    assert mc["test_loss"] == pytest.approx(F.nll_loss(want.log(), data.y_test).item(), rel=1e-5)
    assert mc["accuracy_difference"] == mc["test_accuracy"] - r["test_accuracy"]
    assert mc["loss_difference"] == mc["test_loss"] - r["test_loss"]
    assert mc["dropout_mode"] == mode and mc["passes"] == 7 and mc["dropout_layers"] == 2
    # the passes differ: the masks are drawn
    single = [mc_dropout.predict(net, data.x_test, 1, seed=s) for s in (1, 2)]
    assert not torch.equal(*single)


def test_without_dropout_mc_is_the_deterministic_rule(fast_run):
    _, run = fast_run("model.dropout=0")
    r = trainlab.evaluate(run, mc_dropout=5)
    mc = r["mc_dropout"]
    assert mc["dropout_layers"] == 0
    assert mc["test_accuracy"] == r["test_accuracy"] and mc["accuracy_difference"] == 0
    assert mc["test_loss"] == pytest.approx(r["test_loss"], rel=1e-6, abs=1e-7)


def test_seeded_and_leaves_the_random_state_alone(fast_run):
    _, run = fast_run("model.dropout=0.3")
    a, b = (trainlab.evaluate(run, mc_dropout=4)["mc_dropout"] for _ in range(2))
    assert a == b
    net, x = trainlab.load_model(run), torch.randn(10, 2)
    before = torch.get_rng_state()
    mc_dropout.predict(net, x, 3, seed=5)
    assert torch.equal(torch.get_rng_state(), before)


def test_the_command_prints_both_rules_and_their_difference(fast_run, capsys):
    _, run = fast_run("model.dropout=0.3")
    assert main(["evaluate", str(run), "--mc-dropout", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("deterministic rule (inverted dropout, no scaling at test)")
    assert lines[2].startswith("mc dropout, mean softmax of 3 passes (seed 0): test accuracy")
    assert lines[3].startswith("difference (mc - deterministic): accuracy ")
    assert main(["evaluate", str(run), "--mc-dropout", "-2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "expected an integer >= 1" in err[0]
    with pytest.raises(UserError, match="mc_dropout = 2.5"):
        trainlab.evaluate(run, mc_dropout=2.5)


def test_regression_averages_the_outputs():
    from trainlab.training import losses

    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(6, 8), nn.Dropout(0.5), nn.Linear(8, 1))
    x, y = torch.randn(10, 2, 3), torch.randn(10)
    loss, accuracy = mc_dropout.evaluate(net, x, y, losses.squared_error, passes=6, seed=3)
    net.train()  # the only stochastic layer is the dropout
    torch.manual_seed(3)
    with torch.no_grad():
        mean = sum(net(x).double() for _ in range(6)) / 6
    assert accuracy is None
    assert loss == pytest.approx(F.mse_loss(mean[:, 0], y.double()).item(), rel=1e-5)
