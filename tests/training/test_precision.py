"""train.precision (fp32 | bf16 | fp16), train.compile, and the sync-free epoch on CUDA (issue 13,
section 4). Everything that can run on CPU runs here: bf16 autocast runs on CPU, and PyTorch's
GradScaler runs on CPU too, so fp16's scaling, clipping and checkpointing are tested on CPU with
the device check bypassed (a config asking for fp16 on CPU is refused)."""

import functools

import pytest
import torch
import torch.nn.functional as F

import trainlab
from trainlab import build
from trainlab.cli import main
from trainlab.errors import UserError
from trainlab.training import precision
from trainlab.training.precision import Precision
from trainlab.training.step import Step

from tests.test_train import assert_same_run, crash_and_resume, metrics

CUDA = torch.cuda.is_available()


def mlp(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 3))


def batch(seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(64, 8, generator=g), torch.randint(0, 3, (64,), generator=g)


def test_fp32_is_the_plain_step():
    """Precision("fp32") adds nothing: the same weights, bit for bit, as a Step without it."""
    x, y = batch()
    a, b = mlp(), mlp()
    Step(a, F.cross_entropy, torch.optim.SGD(a.parameters(), 0.1))(x, y)
    Step(b, F.cross_entropy, torch.optim.SGD(b.parameters(), 0.1), precision=Precision("fp32"))(
        x, y
    )
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_bf16_step_equals_a_hand_written_autocast_step():
    """The reference: PyTorch's AMP recipe written out (forward and loss under autocast,
    backward and step outside), on the same batch and weights."""
    x, y = batch()
    model, ref = mlp(), mlp()
    step = Step(
        model,
        F.cross_entropy,
        torch.optim.SGD(model.parameters(), 0.1),
        precision=Precision("bf16", "cpu"),
    )
    logits = step(x, y)
    opt = torch.optim.SGD(ref.parameters(), 0.1)
    with torch.autocast("cpu", torch.bfloat16):
        z = ref(x)
        loss = F.cross_entropy(z, y)
    assert z.dtype == torch.bfloat16 and loss.dtype == torch.float32
    loss.backward()
    opt.step()
    assert torch.equal(step.loss, loss)
    assert logits.dtype == torch.float32 and torch.equal(logits, z.detach().float())
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), ref.parameters()))
    fp32 = mlp()
    Step(fp32, F.cross_entropy, torch.optim.SGD(fp32.parameters(), 0.1))(x, y)
    assert not all(torch.equal(p, q) for p, q in zip(model.parameters(), fp32.parameters()))


def test_fp16_scaler_unscales_before_clipping():
    """fp16 with gradient clipping: the scaled backward, unscale, clip by norm, step equals
    (bit for bit) clipping the gradients of s * L times 1/s (s = 2^16, a power of two), and
    (to float16's rounding) clipping the unscaled gradients. GradScaler runs on CPU."""
    x, y = batch()
    max_norm = 0.05
    model, ref, plain = mlp(), mlp(), mlp()
    opt = trainlab.optim.GradientClipping(torch.optim.SGD(model.parameters(), 0.1), max_norm)
    step = Step(model, F.cross_entropy, opt, precision=Precision("fp16", "cpu"))
    step(x, y)
    assert opt.last_norm > max_norm  # the clipping acted
    assert step.scaler.get_scale() == 2.0**16  # no overflow: the scale stays

    def reference(net, scale):
        with torch.autocast("cpu", torch.float16):
            loss = F.cross_entropy(net(x), y)
        (loss * scale).backward()
        for p in net.parameters():
            p.grad.mul_(1 / scale)
        norm = torch.nn.utils.clip_grad_norm_(list(net.parameters()), max_norm)
        torch.optim.SGD(net.parameters(), 0.1).step()
        return norm

    norm = reference(ref, 2.0**16)
    assert torch.equal(norm, opt.last_norm)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), ref.parameters()))
    reference(plain, 1.0)  # no scaling: float16's underflow aside, the same update
    for p, q in zip(model.parameters(), plain.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-3, atol=1e-5)


def test_fp16_skips_a_step_whose_gradient_overflowed():
    x, y = batch()
    model = mlp()
    before = [p.detach().clone() for p in model.parameters()]
    step = Step(
        model,
        F.cross_entropy,
        torch.optim.SGD(model.parameters(), 0.1),
        precision=Precision("fp16", "cpu"),
    )
    step.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**60)  # s * L overflows float16
    step(x, y)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before))
    assert step.scaler.get_scale() == 2.0**59


def test_fp16_refuses_optimizers_that_need_the_loss():
    model = mlp()
    opt = trainlab.optim.Rprop(model.parameters(), variant="irprop+")
    with pytest.raises(UserError, match="fp16"):
        Step(model, F.cross_entropy, opt, precision=Precision("fp16", "cpu"))


@pytest.mark.slow
def test_bf16_run_trains_resumes_exactly_and_checkpoints_the_plain_state(fast_run, monkeypatch):
    extra = (
        "train.precision=bf16",
        "model.dropout=0.2",
        "gradient_clip.max_norm=1",
        "early_stopping.patience=2",
        "train.epochs=5",
    )
    summary, reference = fast_run(*extra)
    assert summary["test_accuracy"] > 0.8
    crash_and_resume(fast_run, monkeypatch, extra, 2, reference.parent / "crashed")
    assert_same_run(reference, reference.parent / "crashed")
    saved = torch.load(reference / "last.pt", weights_only=True)
    assert "scaler" not in saved  # bf16 needs no loss scaling
    assert all(v.dtype == torch.float32 for v in saved["model"].values())  # fp32 weights
    _, fp32 = fast_run(*extra[1:])
    assert metrics(fp32) != metrics(reference)  # bf16 did change the arithmetic


def test_fp16_run_checkpoints_the_scaler_and_resumes_exactly(fast_run, monkeypatch):
    """fp16 on CPU, the device check bypassed (CPU autocast and GradScaler support float16).
    The scale doubles every 3 updates without overflow (PyTorch's default: 2000, more than this
    run has), so it grows until float16 overflows and steps are skipped: a resume that did not
    restore the scaler would continue with another scale, other skips and other weights."""
    monkeypatch.setattr(precision, "check", lambda *args: None)
    monkeypatch.setattr(
        torch.amp, "GradScaler", functools.partial(torch.amp.GradScaler, growth_interval=3)
    )
    extra = ("train.precision=fp16", "gradient_clip.max_norm=1", "train.epochs=5")
    summary, reference = fast_run(*extra)
    assert summary["test_accuracy"] > 0.8 and not summary["diverged"]
    saved = torch.load(reference / "last.pt", weights_only=True)
    assert saved["scaler"]["scale"] > 2.0**16 and "_growth_tracker" in saved["scaler"]
    crash_and_resume(fast_run, monkeypatch, extra, 2, reference.parent / "crashed")
    assert_same_run(reference, reference.parent / "crashed")
    resumed = torch.load(reference.parent / "crashed" / "last.pt", weights_only=True)
    assert resumed["scaler"] == saved["scaler"]


@pytest.mark.filterwarnings("error:Detected call of `lr_scheduler")
def test_fp16_skipped_first_update_does_not_warn_the_schedulers(fast_run, monkeypatch):
    """An overflowing first update skips optimizer.step(); the schedule still counts it (as
    PyTorch's AMP examples step their schedulers), without PyTorch's warning that a scheduler
    stepped before its optimizer: per update (cosine, warm-up) and per epoch (one update per
    epoch)."""
    x, y = batch()
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), 0.1)
    config = trainlab.config.resolve(None, ["schedule.name=cosine", "schedule.warmup_epochs=1"])
    step = Step(
        model,
        F.cross_entropy,
        opt,
        precision=Precision("fp16", "cpu"),
        schedule=build.schedule(config, opt, 2),
    )
    step.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**60)  # s * L overflows float16
    for _ in range(4):  # the warm-up's first step, then cosine's, both after skipped updates
        step(x, y)
    assert step.scaler.get_scale() == 2.0**56 and step.schedule.updates == 4
    monkeypatch.setattr(precision, "check", lambda *args: None)
    monkeypatch.setattr(
        torch.amp, "GradScaler", functools.partial(torch.amp.GradScaler, init_scale=2.0**60)
    )
    # clipping: a wrapper without a fused step, which the scaler skips (a fused SGD is called
    # and skips the update itself)
    _, run = fast_run(
        "train.precision=fp16",
        "train.batch_size=full",
        "schedule.name=step",
        "schedule.step_size=1",
        "train.epochs=2",
        "gradient_clip.max_norm=1",
    )
    assert torch.load(run / "last.pt", weights_only=True)["scaler"]["scale"] == 2.0**58


def test_a_diverging_bf16_run_stops_and_keeps_the_last_good_checkpoint(fast_run):
    summary, run = fast_run("train.precision=bf16", "optimizer.lr=1e30", "optimizer.momentum=0")
    assert summary["diverged"]


@pytest.mark.parametrize(
    "argv, says",
    [
        (["train.precision=fp16"], "train.precision = fp16 on cpu"),
        (["train.precision=fp8"], "expected one of fp32, bf16, fp16"),
        (["train.precision=bf16", "distributed.mode=hogwild"], "distributed modes train in fp32"),
    ],
)
def test_bad_precision_is_one_line_exit_2(capsys, tmp_path, argv, says):
    if CUDA and argv == ["train.precision=fp16"]:
        argv = argv + ["device=cpu"]
    code = main(["train", *argv, "--out", str(tmp_path / "r"), "--progress", "quiet"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and says in err, err
    assert not (tmp_path / "r").exists()


def test_bf16_on_a_gpu_without_it_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "Tesla V100")
    config = trainlab.config.resolve(None, ["train.precision=bf16"])
    with pytest.raises(UserError, match="Tesla V100.*does not support bfloat16"):
        build.check_device(config, torch.device("cuda"))


def test_compile_without_a_compiler_is_one_line_exit_2(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(precision, "compiler_unavailable", lambda device: "no g++ (test)")
    code = main(
        ["train", "train.compile=true", "--out", str(tmp_path / "r"), "--progress", "quiet"]
    )
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "train.compile=true" in err.replace(" ", "")
    assert "unavailable here (no g++ (test))" in err
    assert not (tmp_path / "r").exists()


def test_config_describes_precision_and_compile(capsys):
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    for words in (
        "bf16 = autocast to bfloat16",
        "gradient scaler",
        "reduce-overhead",
        "launch cost",
    ):
        assert words in out


@pytest.mark.slow
@pytest.mark.skipif(
    precision.compiler_unavailable(torch.device("cpu")) is not None,
    reason="torch.compile needs a C++ compiler on CPU",
)
def test_compiled_run_trains_and_checkpoints_the_plain_module(fast_run):
    """One compilation (full batch: one shape) of a tiny MLP, a few seconds; the numbers match
    the eager run's to rounding (Inductor fuses and reorders float operations); no dropout,
    whose masks Inductor draws with its own random kernels."""
    extra = ("train.batch_size=full", "train.epochs=3", "data.val_fraction=0.25", "model.dropout=0")
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    summary, run = fast_run("train.compile=true", *extra)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 1  # the step did compile
    saved = torch.load(run / "last.pt", weights_only=True)["model"]
    assert not any(k.startswith("_orig_mod.") for k in saved)
    model = trainlab.load_model(run, "last")  # loads into the plain architecture
    assert set(model.state_dict()) == set(saved)
    _, eager = fast_run(*extra)
    for a, b in zip(metrics(run), metrics(eager)):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-4)
    eager_weights = torch.load(eager / "last.pt", weights_only=True)["model"]
    for k in saved:
        torch.testing.assert_close(saved[k], eager_weights[k], rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(not CUDA, reason="needs a CUDA device: set_sync_debug_mode is CUDA's")
@pytest.mark.parametrize(
    "extra",
    [
        [],
        ["train.precision=bf16"],
        [
            "augment.shift=3",
            "augment.stretch=0.1",
            "augment.noise=0.05",
            "model.dropout=0.2",
            "gradient_clip.max_norm=1",
        ],
    ],
)
def test_an_epoch_on_cuda_never_synchronizes(extra):
    """The default CNN on MNIST-1D: one epoch's updates (shuffle, augmentation, steps, running
    metrics) under sync_debug_mode "error", which raises at any host-device synchronization."""
    from trainlab.training.early_stopping import EarlyStopping
    from trainlab.training.loop import FitState, build, epoch_updates

    config = trainlab.config.resolve(None, ["device=cuda", *extra])
    splits = build.load_data(config, torch.device("cuda"))
    parts = build.parts(config, splits)
    state = FitState(
        config,
        splits,
        parts,
        None,
        EarlyStopping("val_accuracy", 0, 0.0),
        torch.Generator().manual_seed(0),
    )
    epoch_updates(state)  # warm-up: cuDNN and the caching allocator set themselves up
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        running = epoch_updates(state)
        running._flush()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    loss, accuracy = running.result()
    assert loss == loss and 0 <= accuracy <= 1
