"""trainlab side by side with the frameworks people use instead (issue 13): the same data, model,
optimizer and rate, trained by trainlab, a hand-written PyTorch loop, PyTorch Lightning (as its
users write it, and lean) and Keras 3 on its torch backend, in one process.

Every contender trains MNIST-1D (trainlab's generated, standardized arrays: 3600 training and
400 validation samples) for the same number of epochs, with shuffled minibatches, the whole
validation split evaluated after every epoch (one batch, the same work for all) and a plain
forward pass over the test split at the end, from the same seed:

- ``hand-written``: ``benchmarks/loop_overhead.py``'s bare loop (slices of the shuffled tensors);
- ``trainlab``: ``trainlab.training.loop.fit`` with its run folder, metrics.jsonl, checkpoints
  (``loop_overhead.py``'s ``trainlab_loop``);
- ``Lightning``: ``Trainer`` as its users write it: ``TensorDataset`` + ``DataLoader(shuffle=True)``,
  ``self.log`` of the train loss and the validation loss and accuracy, the defaults
  (TensorBoard logger, checkpoint every epoch, model summary, sanity check) minus the progress
  bar, writing into a temporary folder;
- ``Lightning lean``: ``Trainer(barebones=True)`` (no logger, checkpointing, model summary,
  sanity check, ``self.log``), batches sliced from the in-memory tensors by a small iterable;
- ``Keras``: Keras 3, ``KERAS_BACKEND=torch``, the same layers (``Sequential`` of ``Dense``,
  ``Conv1D``, ``BatchNormalization`` with torch's momentum and eps, ``Dropout``,
  ``MaxPooling1D``), its own AdamW / SGD with the same hyper-parameters,
  ``model.fit(x, y, validation_data=..., shuffle=True, verbose=0)`` on NumPy arrays with
  ``metrics=["accuracy"]``.

The three torch contenders other than Keras use the optimizer trainlab builds (fused AdamW on
CPU). The schedule is constant for all (Keras has no one-cycle schedule built in). Reported per
case and contender: training samples per second over the whole fit (model building, every epoch
with its validation, the test forward), best of the rounds (interference only ever adds time),
the ratio to the hand-written loop (best / best, and the median of the per-round ratios), and
the last epoch's validation accuracy of the best round (a check that all trained the same
problem; they differ by seed and initialization). PyTorch uses ``--threads`` threads for all.
The contenders run in a rotated order each round, after one untimed warm-up run each.

    pip install -e '.[peers]'
    python benchmarks/peers.py [--rounds 5] [--epochs 10] [--online-epochs 5]
        [--online-samples 1000] [--threads 2] [--cases cnn,mlp,online] [--quick]
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import dataclasses  # noqa: E402
import functools  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from loop_overhead import bare_loop, trainlab_loop  # noqa: E402

from trainlab import build  # noqa: E402
from trainlab.config import Config, resolve  # noqa: E402
from trainlab.data import Splits  # noqa: E402

# The peers are optional: without them the module still imports, and the hand-written loop and
# trainlab still run (--contenders hand-written,trainlab); a contender that needs one says so.
MISSING: dict[str, str] = {}  # package -> why it did not import
try:
    import keras
except ImportError as e:
    keras, MISSING["keras"] = None, str(e)
try:
    import lightning as L
except ImportError as e:
    L, MISSING["lightning"] = None, str(e)

RESULTS = Path(__file__).parent / "results" / "peers.json"
COMMON = ["device=cpu", "schedule.name=constant"]
# name -> (overrides, minibatch case or online)
CASES = {
    "mlp": ("MLP [256, 256] on MNIST-1D, minibatch 32",
            ["model.name=mlp", "train.batch_size=32"]),
    "cnn": ("default CNN on MNIST-1D, minibatch 64", []),
    "online": ("MLP [32] on MNIST-1D, online GD (batch 1)",
               ["model.name=mlp", "model.hidden=[32]", "model.norm=none", "train.batch_size=1",
                "optimizer.name=sgd", "optimizer.lr=0.01"]),
}


# ----------------------------------------------------------------------------- Lightning

@functools.cache
def lit_model() -> type:
    """``LitModel`` (defined on first use: Lightning is optional)."""

    class LitModel(L.LightningModule):
        """The trainlab-built model and optimizer in a LightningModule, written as its docs
        show."""

        def __init__(self, cfg: Config, s: Splits, log_metrics: bool):
            super().__init__()
            self.cfg, self.log_metrics, self.val_accuracy = cfg, log_metrics, None
            self.model = build.model(cfg, s.input_shape, s.num_classes)

        def forward(self, x):
            return self.model(x)

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = F.cross_entropy(self(x), y)
            if self.log_metrics:
                self.log("train_loss", loss)
            return loss

        def validation_step(self, batch, batch_idx):
            x, y = batch
            logits = self(x)
            acc = (logits.argmax(1) == y).float().mean()
            if self.log_metrics:
                self.log("val_loss", F.cross_entropy(logits, y))
                self.log("val_acc", acc)
            self.val_accuracy = acc.item()

        def configure_optimizers(self):
            return build.optimizer(self.cfg, self.parameters())

    return LitModel


class Slices:
    """Shuffled minibatches sliced from in-memory tensors: what the lean Lightning run trains
    on instead of a DataLoader (Lightning takes any iterable with a length)."""

    def __init__(self, x, y, batch_size: int, shuffle: bool, seed: int):
        self.x, self.y, self.b, self.shuffle = x, y, batch_size, shuffle
        self.g = torch.Generator().manual_seed(seed)

    def __len__(self):
        return -(-len(self.x) // self.b)

    def __iter__(self):
        x, y = self.x, self.y
        if self.shuffle:
            perm = torch.randperm(len(x), generator=self.g)
            x, y = x[perm], y[perm]
        for i in range(0, len(x), self.b):
            yield x[i:i + self.b], y[i:i + self.b]


def lightning_run(cfg: Config, s: Splits, result: dict, lean: bool) -> float:
    from torch.utils.data import DataLoader, TensorDataset
    b, epochs, n_val = cfg.train.batch_size, cfg.train.epochs, len(s.x_val)
    with tempfile.TemporaryDirectory() as tmp:
        tic = time.perf_counter()
        torch.manual_seed(cfg.seed)
        lit = lit_model()(cfg, s, log_metrics=not lean)
        if lean:
            train = Slices(s.x_train, s.y_train, b, True, cfg.seed)
            val = Slices(s.x_val, s.y_val, n_val, False, cfg.seed)
            trainer = L.Trainer(max_epochs=epochs, barebones=True, default_root_dir=tmp)
        else:
            train = DataLoader(TensorDataset(s.x_train, s.y_train), batch_size=b, shuffle=True)
            val = DataLoader(TensorDataset(s.x_val, s.y_val), batch_size=n_val)
            trainer = L.Trainer(max_epochs=epochs, enable_progress_bar=False, default_root_dir=tmp)
        with contextlib.redirect_stdout(io.StringIO()):  # the default model summary table
            trainer.fit(lit, train, val)
        lit.eval()
        with torch.no_grad():
            test = (lit(s.x_test).argmax(1) == s.y_test).float().mean().item()
        seconds = time.perf_counter() - tic
        if not lean:  # what the defaults wrote: a checkpoint and TensorBoard events
            written = [p for p in Path(tmp).rglob("*") if p.is_file()]
            assert any(p.suffix == ".ckpt" for p in written), written
            assert any("events" in p.name for p in written), written
    assert trainer.current_epoch == epochs and test >= 0
    result["val_accuracy"] = lit.val_accuracy
    return seconds


# ----------------------------------------------------------------------------- Keras

def keras_model(cfg: Config, s: Splits):
    """The layers trainlab builds for ``cfg``, in Keras (channels last)."""
    from keras import layers
    m = cfg.model
    bn = dict(momentum=1 - m.bn_momentum, epsilon=1e-5)  # torch's running-average convention
    norm = m.norm == "batch"
    assert m.norm in ("batch", "none") and m.activation == "relu"
    stack = [keras.Input(s.input_shape)]
    if m.name == "mlp":
        for width in m.hidden:
            stack += [layers.Dense(width, use_bias=not norm)]
            stack += [layers.BatchNormalization(**bn)] if norm else []
            stack += [layers.ReLU(), layers.Dropout(m.dropout)]
    elif m.name == "cnn1d":
        assert m.padding == "same" and m.stride == 1 and m.pool == "max"
        stack += [layers.Reshape((*s.input_shape, 1))]
        for i, c in enumerate(m.channels):
            stack += [layers.Conv1D(c, m.kernel_size, padding="same", use_bias=not norm)]
            stack += [layers.BatchNormalization(**bn)] if norm else []
            stack += [layers.ReLU()]
            stack += [layers.MaxPooling1D(2)] if i > 0 else []  # as trainlab's cnn1d: not after the first
            stack += [layers.Dropout(m.dropout)]
        stack += [layers.Flatten()]
    else:
        raise ValueError(m.name)
    return keras.Sequential(stack + [layers.Dense(s.num_classes)])


def keras_optimizer(cfg: Config):
    o = cfg.optimizer
    if o.name == "adamw":
        return keras.optimizers.AdamW(learning_rate=o.lr, weight_decay=o.weight_decay,
                                      beta_1=o.betas[0], beta_2=o.betas[1], epsilon=o.eps)
    assert o.name == "sgd" and not o.momentum
    # Keras decouples the decay (w -= lr wd w); for plain SGD that is torch's L2 term exactly.
    return keras.optimizers.SGD(learning_rate=o.lr, weight_decay=o.weight_decay or None)


def keras_run(cfg: Config, s: Splits, result: dict) -> float:
    arrays = [t.numpy() for t in (s.x_train, s.y_train, s.x_val, s.y_val, s.x_test)]
    x, y, xv, yv, xt = arrays
    tic = time.perf_counter()
    keras.utils.set_random_seed(cfg.seed)
    model = keras_model(cfg, s)
    model.compile(optimizer=keras_optimizer(cfg), metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(x, y, batch_size=cfg.train.batch_size,
                        epochs=cfg.train.epochs, validation_data=(xv, yv),
                        validation_batch_size=len(xv), shuffle=True, verbose=0)
    with torch.no_grad():
        test = model(xt, training=False)
    seconds = time.perf_counter() - tic
    assert len(history.history["val_accuracy"]) == cfg.train.epochs and len(test) == len(xt)
    result["val_accuracy"] = history.history["val_accuracy"][-1]
    return seconds


# ----------------------------------------------------------------------------- main

CONTENDERS = {
    "hand-written": lambda cfg, s, r: bare_loop(cfg, s, r),
    "trainlab": lambda cfg, s, r: trainlab_loop(cfg, s, r),
    "Lightning": lambda cfg, s, r: lightning_run(cfg, s, r, lean=False),
    "Lightning lean": lambda cfg, s, r: lightning_run(cfg, s, r, lean=True),
    "Keras": keras_run,
}
NEEDS = {"Lightning": "lightning", "Lightning lean": "lightning", "Keras": "keras"}


def quiet() -> None:
    """No framework chatter on the console (Lightning's device lines and hints)."""
    warnings.filterwarnings("ignore")
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.ERROR)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=10, help="minibatch cases")
    ap.add_argument("--online-epochs", type=int, default=5)
    ap.add_argument("--online-samples", type=int, default=1000,
                    help="online GD trains on the first N training samples")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads for all")
    ap.add_argument("--cases", default=",".join(CASES), help="comma-separated: "
                    + ", ".join(CASES))
    ap.add_argument("--contenders", default=",".join(CONTENDERS),
                    help="comma-separated subset (default: all)")
    ap.add_argument("--quick", action="store_true",
                    help="a smoke run: 1 round, 1 epoch, 100 online samples")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.epochs, args.online_epochs, args.online_samples = 1, 1, 1, 100
    cases = args.cases.split(",")
    names = args.contenders.split(",")
    for c in cases:
        if c not in CASES:
            ap.error(f"unknown case {c!r}; one of {', '.join(CASES)}")
    for c in names:
        if c not in CONTENDERS:
            ap.error(f"unknown contender {c!r}; one of {', '.join(CONTENDERS)}")
    for c in names:
        if NEEDS.get(c) in MISSING:
            sys.exit(f"peers.py: contender {c!r} needs {NEEDS[c]} ({MISSING[NEEDS[c]]}); install "
                     "the peers with  pip install -e '.[peers]'  (or leave it out: --contenders "
                     "hand-written,trainlab)")
    if "Keras" in names:
        assert keras.backend.backend() == "torch", keras.backend.backend()
    quiet()
    torch.set_num_threads(args.threads)
    env = {"torch": torch.__version__, "lightning": L.__version__ if L else None,
           "keras": keras.__version__ if keras else None,
           "python": platform.python_version(), "threads": args.threads,
           "cpus": os.cpu_count(), "rounds": args.rounds, "epochs": args.epochs,
           "online_epochs": args.online_epochs, "online_samples": args.online_samples,
           "date": time.strftime("%Y-%m-%d %H:%M"), "command": " ".join(sys.argv)}
    print(f"torch {env['torch']}, Lightning {env['lightning']}, Keras {env['keras']} (torch "
          f"backend); {args.threads} threads, CPU; {args.rounds} rounds, best of them", flush=True)
    out = {"env": env, "cases": {}}
    for key in cases:
        title, overrides = CASES[key]
        online = key == "online"
        epochs = args.online_epochs if online else args.epochs
        cfg = resolve(None, overrides + COMMON + [f"train.epochs={epochs}",
                                                  f"train.threads={args.threads}"])
        s = build.load_data(cfg)
        if online:
            n = args.online_samples
            s = dataclasses.replace(s, x_train=s.x_train[:n], y_train=s.y_train[:n])
        samples = len(s.x_train) * epochs
        rates = {c: [] for c in names}
        accs = {c: [] for c in names}
        for c in names:  # warm-up: imports, first-call setup, allocator
            CONTENDERS[c](cfg, s, {})
        for r in range(args.rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for c in order:
                res = {}
                rates[c].append(samples / CONTENDERS[c](cfg, s, res))
                accs[c].append(res["val_accuracy"])
                assert torch.get_num_threads() == args.threads, (c, torch.get_num_threads())
        base = rates.get("hand-written")
        rows = {}
        for c in names:
            best = max(rates[c])
            i = rates[c].index(best)
            rows[c] = {"samples_per_s": best, "rounds": rates[c],
                       "val_accuracy": accs[c][i], "val_accuracies": accs[c]}
            if base:
                rows[c]["ratio_best"] = best / max(base)
                rows[c]["ratio_median"] = statistics.median(
                    x / y for x, y in zip(rates[c], base))
        out["cases"][title] = {"key": key, "epochs": epochs, "train_samples": len(s.x_train),
                               "batch_size": cfg.train.batch_size, "contenders": rows}
        print(f"{title}: done", flush=True)
    print()
    print(table(out))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(f"\nwritten: {args.out}")


def table(out: dict) -> str:
    lines = ["| case | contender | samples/s (best) | / hand-written (best) | "
             "/ hand-written (median of rounds) | final val accuracy |",
             "|---|---|---:|---:|---:|---:|"]
    for title, case in out["cases"].items():
        for c, row in case["contenders"].items():
            ratio = (f"{row['ratio_best']:.2f} | {row['ratio_median']:.2f}"
                     if "ratio_best" in row else "- | -")
            lines.append(f"| {title} | {c} | {row['samples_per_s']:,.0f} | {ratio} | "
                         f"{100 * row['val_accuracy']:.1f}% |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
