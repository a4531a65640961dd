"""The regularizers the lectures name beyond L1/L2 on the weights: L1 on the hidden activations
(lecture 000 s153), one L2 strength per weight layer (lecture 004), the confidence penalty only
below an entropy threshold and label smoothing toward the class frequencies (lecture 003
s71-74); each against its formula computed here by hand in float64."""

import pickle

import pytest
import torch
from torch import nn

from trainlab import build
from trainlab.cli import main
from trainlab.config import resolve
from trainlab.training.step import Step

Z = torch.tensor([[2.0, -1.0, 0.5], [0.1, 0.2, 3.0], [-2.0, 1.0, 1.5], [0.0, 0.0, 0.1]]).double()
Y = torch.tensor([0, 2, 1, 0])


def mlp(*overrides):
    cfg = resolve(None, ["model.name=mlp", "model.hidden=[5, 4]", "model.norm=none", *overrides])
    torch.manual_seed(0)
    return cfg, build.model(cfg, (3,), 3).double()


def objective(cfg, model, x, y):
    """The objective one training step differentiates (divergence + penalties)."""
    step = Step(model, build.loss(cfg), torch.optim.SGD(model.parameters(), 0.0),
                regularization=build.regularization(cfg, model))  # fmt: skip
    step.compute_gradients(x, y)
    return step.loss


def test_l1_on_hidden_activations():
    cfg, model = mlp("regularization.l1_activations=0.3", "model.dropout=0")
    x = torch.randn(6, 3, dtype=torch.float64)
    y = torch.randint(0, 3, (6,))
    lin = [m for m in model.net if isinstance(m, nn.Linear)]
    with torch.no_grad():  # the forward pass by hand: relu(W x + b), twice, then the head
        h1 = (x @ lin[0].weight.T + lin[0].bias).clamp(min=0)
        h2 = (h1 @ lin[1].weight.T + lin[1].bias).clamp(min=0)
        z = h2 @ lin[2].weight.T + lin[2].bias
        penalty = 0.3 * (h1.abs().sum() + h2.abs().sum()) / 6
        expected = nn.functional.cross_entropy(z, y) + penalty
    torch.testing.assert_close(objective(cfg, model, x, y).detach(), expected)
    model.eval()  # evaluation records nothing
    with torch.no_grad():
        model(x)
    reg = build.regularization(cfg, model)
    assert reg.activations.outputs == []


def test_l2_per_layer_one_strength_per_weight_layer():
    cfg, model = mlp("regularization.l2_per_layer=[0.1, 0, 2.0]", "model.dropout=0")
    x, y = torch.randn(6, 3, dtype=torch.float64), torch.randint(0, 3, (6,))
    w = [m.weight for m in model.net if isinstance(m, nn.Linear)]
    with torch.no_grad():
        penalty = 0.1 / 2 * (w[0] ** 2).sum() + 2.0 / 2 * (w[2] ** 2).sum()
        expected = nn.functional.cross_entropy(model(x), y) + penalty
    torch.testing.assert_close(objective(cfg, model, x, y).detach(), expected)
    bad, model = mlp("regularization.l2_per_layer=[0.1, 0.2]")
    with pytest.raises(Exception, match=r"one strength per weight layer, 3 \(net.1.weight"):
        build.regularization(bad, model)


def loss(*overrides, labels=None):
    cfg = resolve(None, list(overrides))
    return build.loss(cfg, labels=labels)(Z, Y)


def test_confidence_penalty_only_below_the_entropy_threshold():
    p = Z.softmax(1)
    h = -(p * p.log()).sum(1)  # per sample; the last one is near log 3 = 1.0986
    gamma = 1.0
    assert (h < gamma).any() and (h > gamma).any()
    expected = loss() + 0.5 * (gamma - h).clamp(min=0).mean()
    got = loss("loss.confidence_penalty=0.5", "loss.confidence_threshold=1.0")
    torch.testing.assert_close(got, expected)


def test_label_smoothing_toward_the_unigram_prior():
    train = torch.tensor([0, 0, 0, 1, 2, 2, 0, 1])  # frequencies 1/2, 1/4, 1/4
    u = torch.tensor([0.5, 0.25, 0.25], dtype=torch.float64)
    q = 0.8 * nn.functional.one_hot(Y, 3).double() + 0.2 * u
    expected = -(q * Z.log_softmax(1)).sum(1).mean()
    unigram = ["loss.label_smoothing=0.2", "loss.smoothing_prior=unigram"]
    torch.testing.assert_close(loss(*unigram, labels=train), expected)
    expected_kl = (q * (q.log() - Z.log_softmax(1))).sum(1).mean()
    torch.testing.assert_close(loss(*unigram, "loss.name=kl", labels=train), expected_kl)
    # balanced classes: the unigram prior is the uniform one
    balanced = torch.tensor([0, 1, 2, 2, 1, 0])
    torch.testing.assert_close(loss(*unigram, labels=balanced), loss("loss.label_smoothing=0.2"))


def test_the_run_uses_the_training_split_frequencies(fast_run):
    summary, _ = fast_run(
        "loss.label_smoothing=0.1",
        "loss.smoothing_prior=unigram",
        "regularization.l1_activations=0.001",
        "regularization.l2_per_layer=[0.001, 0.001]",
        "loss.confidence_penalty=0.1",
        "loss.confidence_threshold=0.3",
        "train.epochs=2",
    )
    assert summary["test_accuracy"] > 0.6


@pytest.mark.parametrize(
    "overrides, words",
    [
        (["regularization.l1_activations=-1"], "regularization.l1_activations = -1"),
        (["regularization.l2_per_layer=[0.1, -1]"], "a list of numbers >= 0"),
        (["loss.confidence_threshold=-0.5"], "loss.confidence_threshold = -0.5"),
        (["loss.confidence_threshold=0.5"], "needs loss.confidence_penalty > 0"),
        (["loss.smoothing_prior=zipf"], "expected one of uniform, unigram"),
        (["loss.smoothing_prior=unigram"], "needs loss.label_smoothing > 0"),
        (["regularization.l1_activations=0.1", "train.compile=true"], "not with train.compile"),
        (
            ["distributed.mode=pipeline", "regularization.l1_activations=0.1"],
            "not with distributed.mode = 'pipeline'",
        ),
    ],
)
def test_bad_values_are_one_line_exit_2(capsys, overrides, words):
    assert main(["config", *overrides]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err


def test_l1_activations_needs_hidden_activations(capsys, tmp_path):
    argv = ["train", "data.name=moons", "data.samples=100", "regularization.l1_activations=0.1"]
    assert main([*argv, "model.name=linear", "--out", str(tmp_path / "r")]) == 2
    assert "needs hidden activation layers, model.name = cnn1d or" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
    # a hidden layer list that is empty: the model has no activation to penalize
    out = str(tmp_path / "s")
    assert main([*argv, "model.name=mlp", "model.hidden=[]", "--out", out]) == 2
    assert "no hidden activation layers" in capsys.readouterr().err


def test_activations_of_one_forward_pass_only():
    cfg, model = mlp("regularization.l1_activations=0.3", "model.dropout=0")
    reg = build.regularization(cfg, model)
    x = torch.randn(6, 3, dtype=torch.float64)
    model(x)
    model(x)  # a pass whose penalty is never taken does not pile up
    assert len(reg.activations.outputs) == 2  # two hidden layers, one pass
    copy = pickle.loads(pickle.dumps(reg.activations))
    assert copy.outputs == [] and copy.strength == 0.3
