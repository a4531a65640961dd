"""The hand-derived gradients of lecture 001 (claim hand-gradients-equal-autograd): against
numbers worked out by hand and against autograd through trainlab's model and hinge loss."""

import torch

from trainlab import build
from trainlab.claims.catalogue_architecture import hand_gradients, measure_hand_gradients
from trainlab.claims.toolkit import config


def test_hand_formulas_on_a_worked_example():
    # x = (1, 2); hidden W rows (1, 0), (0, -1), offsets 0: z_j = (1, -2), f = (1, 0);
    # head rows H_0 = (0, 0), H_1 = (0.5, 1): V = (0.5, 1), z = 0.5; label 1 (y = +1):
    # Loss = 1 - 0.5 > 0, so dLoss/dz = -1 and trainlab's hinge is Loss / 2.
    cfg = config(0, "model.hidden=[2]", 'loss.name="hinge"')
    model = build.model(cfg, (2,), 2).double()
    first, head = model.net[1], model.net[4]
    with torch.no_grad():
        first.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, -1.0]]))
        first.bias.zero_()
        head.weight.copy_(torch.tensor([[0.0, 0.0], [0.5, 1.0]]))
        head.bias.zero_()
    x = torch.tensor([1.0, 2.0], dtype=torch.float64)
    hand = hand_gradients(model, x, 1)
    expected = {
        "net.1.weight": [[-0.25, -0.5], [0.0, 0.0]],
        "net.1.bias": [-0.25, 0.0],
        "net.4.weight": [[0.5, 0.0], [-0.5, 0.0]],
        "net.4.bias": [0.5, -0.5],
    }
    build.loss(cfg)(model(x[None]), torch.tensor([1])).backward()
    for name, p in model.named_parameters():
        want = torch.tensor(expected[name], dtype=torch.float64)
        assert torch.equal(hand[name], want), name
        assert torch.allclose(p.grad, want, atol=1e-15), name


def test_zero_loss_gives_zero_gradient():
    cfg = config(0, 'model.name="linear"', 'loss.name="hinge"')
    model = build.model(cfg, (2,), 2).double()
    with torch.no_grad():
        model.net[1].weight.copy_(torch.tensor([[0.0, 0.0], [3.0, 0.0]]))
        model.net[1].bias.zero_()
    hand = hand_gradients(model, torch.tensor([1.0, 0.0], dtype=torch.float64), 1)  # yz = 3
    assert all(g.abs().max() == 0 for g in hand.values())


def test_measure_matches_autograd():
    r = measure_hand_gradients(0, samples=20, hidden=5)
    for net in ("1-layer", "2-layer"):
        assert r[net]["max_error"] <= 1e-12 and r[net]["active"] > 0
