"""The training step against hand-written PyTorch (torch.nn.functional, torch.optim): one update,
the two halves apart (a worker computes, a server applies), the objective with auxiliary heads
and penalties, weight noise, and lr-find using the run's own step."""

import copy

import pytest
import torch
import torch.nn.functional as F

from trainlab import build
from trainlab.config import resolve
from trainlab.experiments import lrfind
from trainlab.training.step import Step

from tests.conftest import FAST


def _parts(*extra):
    config = resolve(None, list(extra), presets=FAST + ["model.dropout=0"])
    splits = build.load_data(config)
    return build.parts(config, splits), splits


def test_one_step_is_a_hand_written_pytorch_update():
    parts, s = _parts()
    reference = copy.deepcopy(parts.model)
    opt = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    x, y = s.x_train[:32], s.y_train[:32]
    for _ in range(3):
        parts.step(x, y)
        loss = F.cross_entropy(reference(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    for p, q in zip(parts.model.parameters(), reference.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)


def test_the_halves_work_apart_like_a_worker_and_a_server():
    worker, s = _parts("optimizer.name=adam", "optimizer.lr=0.01")
    server, _ = _parts("optimizer.name=adam", "optimizer.lr=0.01")  # same seed: same weights
    whole, _ = _parts("optimizer.name=adam", "optimizer.lr=0.01")
    x, y = s.x_train[:32], s.y_train[:32]
    for _ in range(3):
        worker.step.compute_gradients(x, y)  # the worker only computes gradients ...
        shipped = [p.grad.clone() for p in worker.model.parameters()]
        for p, g in zip(server.model.parameters(), shipped):  # ... the server only applies them
            p.grad = g
        server.step.apply_gradients()
        worker.model.load_state_dict(server.model.state_dict())
        whole.step(x, y)
    for p, q in zip(server.model.parameters(), whole.model.parameters()):
        assert torch.equal(p, q)


def test_the_objective_adds_auxiliary_heads_and_penalties():
    parts, s = _parts(
        "model.hidden=[16,16]",
        "loss.aux_weight=0.3",
        "regularization.l2=0.01",
        "regularization.l1=0.001",
    )
    x, y = s.x_train[:32], s.y_train[:32]
    model = parts.model
    parts.step.compute_gradients(x, y)
    # by hand: the aux head reads the first hidden block (Linear, ReLU) and every weight and
    # bias is penalized, the head's included: l2/2 sum w^2 + l1 sum |w|
    net = model.net  # Flatten, Linear, Identity (no norm), ReLU, Linear, Identity, ReLU, Linear
    hidden = F.relu(net[1](x))
    logits = net[7](F.relu(net[4](hidden)))
    aux = model.heads[0](hidden)
    params = list(model.parameters())  # the auxiliary head's too
    expected = (
        F.cross_entropy(logits, y)
        + 0.3 * F.cross_entropy(aux, y)
        + 0.01 / 2 * sum((p**2).sum() for p in params)
        + 0.001 * sum(p.abs().sum() for p in params)
    )
    torch.testing.assert_close(parts.step.loss, expected)


def test_weight_noise_takes_the_gradient_at_noisy_weights_and_updates_the_clean_ones():
    parts, s = _parts("regularization.weight_noise=0.1", "optimizer.momentum=0")
    x, y = s.x_train[:32], s.y_train[:32]
    clean = copy.deepcopy(parts.model)
    torch.manual_seed(5)
    parts.step(x, y)
    torch.manual_seed(5)  # the same noise, drawn by hand
    noisy = copy.deepcopy(clean)
    with torch.no_grad():
        for p in noisy.parameters():
            p.add_(torch.randn_like(p), alpha=0.1)
    grads = torch.autograd.grad(F.cross_entropy(noisy(x), y), list(noisy.parameters()))
    for p, p0, g in zip(parts.model.parameters(), clean.parameters(), grads):
        torch.testing.assert_close(p, p0 - 0.1 * g)


def test_a_server_can_pass_the_loss_to_optimizers_that_need_it():
    """irprop+ reverts its last update where the gradient's sign changed and the loss rose
    (Igel & Huesken 2000): the loss a server passes must reach it."""

    def server(losses):
        parts, s = _parts("optimizer.name=rprop", "optimizer.variant=irprop+", "optimizer.lr=0.01")
        assert parts.step.needs_loss
        for i, loss in enumerate(losses):
            parts.step.compute_gradients(s.x_train[:64] * (-1) ** i, s.y_train[:64])  # flip signs
            parts.step.apply_gradients(loss=torch.tensor(loss))
        return [p.detach().clone() for p in parts.model.parameters()]

    def by_hand(losses):  # the same optimizer driven directly with closures
        parts, s = _parts("optimizer.name=rprop", "optimizer.variant=irprop+", "optimizer.lr=0.01")
        for i, loss in enumerate(losses):
            parts.step.compute_gradients(s.x_train[:64] * (-1) ** i, s.y_train[:64])
            parts.optimizer.step(lambda loss=loss: torch.tensor(loss))
        return [p.detach().clone() for p in parts.model.parameters()]

    rose, fell = server([1.0, 2.0, 3.0]), server([3.0, 2.0, 1.0])
    assert all(torch.equal(a, b) for a, b in zip(rose, by_hand([1.0, 2.0, 3.0])))
    assert any(not torch.equal(a, b) for a, b in zip(rose, fell))  # the loss made a difference


def test_lr_find_trains_with_the_runs_own_step():
    parts, s = _parts("regularization.l2=0.5")
    result = lrfind.range_test(parts.step, s.x_train, s.y_train, 32, 1e-7, 1.0, 5, seed=0)
    # the first recorded loss is the objective at the untrained weights on the first batch:
    # cross-entropy plus the L2 penalty (which the old lr-find left out)
    order = torch.randperm(len(s.x_train), generator=torch.Generator().manual_seed(0))
    idx = order[:32]
    with torch.no_grad():
        ce = F.cross_entropy(parts.model(s.x_train[idx]), s.y_train[idx])
        penalty = 0.5 / 2 * sum((p**2).sum() for p in parts.model.parameters())
    assert result["loss"][0] == pytest.approx((ce + penalty).item(), rel=1e-6)
    assert penalty > 0.1 * ce  # the penalty is not negligible: the check means something


def test_steps_without_regularization_or_schedule_work_in_plain_pytorch():
    model = torch.nn.Linear(3, 2)
    step = Step(model, F.cross_entropy, torch.optim.SGD(model.parameters(), lr=0.1))
    x, y = torch.randn(8, 3), torch.randint(0, 2, (8,))
    before = F.cross_entropy(model(x), y).item()
    for _ in range(20):
        step(x, y)
    assert F.cross_entropy(model(x), y).item() < before


def _fit(tmp_path, *extra, **options):
    from trainlab.runs.rundir import RunDir
    from trainlab.training.loop import fit
    from trainlab.training.progress import Progress

    config = resolve(None, list(extra), presets=FAST)
    run = RunDir.create(tmp_path, config)
    data = build.load_data(config)
    parts = build.parts(config, data)
    _, summary = fit(
        parts,
        data,
        run,
        build.fit_options(config, parts),
        Progress(4, "quiet"),
        **options,
    )
    return summary, run


def test_without_writes_nothing_is_written_and_the_numbers_are_the_same(tmp_path):
    written, _ = _fit(tmp_path / "a", "model.dropout=0.2")
    silent, run = _fit(tmp_path / "b", "model.dropout=0.2", writes=False)
    assert {p.name for p in run.path.iterdir()} == {".lock", "config.toml"}
    for key in ("test_loss", "test_accuracy", "best_epoch", "evaluated", "epochs_run"):
        assert silent[key] == written[key], key
    assert silent["evaluated"] == "best"


def test_an_exception_in_a_hook_aborts_the_callbacks_and_propagates(tmp_path):
    from trainlab.training.callbacks import Callback

    calls = []

    class Recorder(Callback):
        def on_fit_end(self, state):
            calls.append("end")

        def on_fit_abort(self, state):
            calls.append("abort")

    def prune(metrics):
        if metrics["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _fit(tmp_path / "run", on_epoch=prune, callbacks=[Recorder()])
    assert calls == ["abort"]


def test_a_callers_callback_that_stops_still_gets_the_final_checkpoint(tmp_path):
    from trainlab.training.callbacks import Callback

    class StopAtTwo(Callback):
        def on_epoch_end(self, state, metrics):
            state.stop = metrics["epoch"] == 2

    summary, run = _fit(tmp_path / "run", "train.checkpoint_seconds=3600", callbacks=[StopAtTwo()])
    assert summary["epochs_run"] == 2
    assert torch.load(run.last, weights_only=True)["epoch"] == 2
