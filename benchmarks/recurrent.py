"""trainlab's own recurrent layer against PyTorch's fused ``nn.LSTM`` (the reference), forward +
backward on CPU, in one process.

Every case times, in turn and alternating which goes first each round: ``nn.LSTM``; trainlab's
``RecurrentLayer`` in its plain form (the input term of all steps in one product, then one
``addmm`` and the cell's elementwise ops per step, eager); two other formulations of the same
plain step, each checked to give the layer's numbers first: the cell compiled with
``torch.compile`` (Inductor), and the whole loop in TorchScript; then the variants the own layer
exists for (layer norm, recurrent batch norm, variational and semeniuta dropout). Reported:
milliseconds per forward + backward (the mean over ``--steps`` calls, best of ``--rounds``
rounds: interference only ever adds time) and each one's ratio to ``nn.LSTM``.

    python benchmarks/recurrent.py [--rounds 5] [--steps 10] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch import nn

from trainlab.models.recurrent import RecurrentLayer

# name -> (batch, steps, inputs, hidden): MNIST-1D read one position per step (40 steps, one
# channel) at the widths a recurrent model would use, and the adding problem (2 channels).
CASES = {"mnist1d, H=64": (64, 40, 1, 64), "mnist1d, H=128": (64, 40, 1, 128),
         "mnist1d, H=256": (64, 40, 1, 256), "adding T=100, H=128": (64, 100, 2, 128)}
VARIANTS = {"own, layer norm": dict(norm="layer"), "own, batch norm": dict(norm="batch"),
            "own, variational dropout": dict(dropout=0.25, dropout_mode="variational"),
            "own, semeniuta dropout": dict(dropout=0.25, dropout_mode="semeniuta")}


def _cell(gates: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    i, f, g, o = gates.chunk(4, 1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c.tanh(), c


@torch.jit.script
def _scripted(gx: torch.Tensor, w_hh: torch.Tensor) -> torch.Tensor:
    h = torch.zeros(gx.shape[0], w_hh.shape[1], dtype=gx.dtype)
    c = h
    out = []
    wt = w_hh.t()
    for g in gx.unbind(1):
        i, f, gg, o = torch.addmm(g, h, wt).chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
        h = torch.sigmoid(o) * torch.tanh(c)
        out.append(h)
    return torch.stack(out, 1)


def formulations(layer: RecurrentLayer) -> dict:
    """The plain step written other ways, on the layer's weights."""
    compiled = torch.compile(_cell, dynamic=False)

    def with_compiled_cell(x):
        gx = F.linear(x, layer.weight_ih, layer.bias_ih + layer.bias_hh).unbind(1)
        h = c = x.new_zeros(x.shape[0], layer.hidden_size)
        out, wt = [], layer.weight_hh.t()
        for g in gx:
            h, c = compiled(torch.addmm(g, h, wt), c)
            out.append(h)
        return torch.stack(out, 1)

    def scripted(x):
        return _scripted(F.linear(x, layer.weight_ih, layer.bias_ih + layer.bias_hh),
                         layer.weight_hh)
    return {"own, torch.compile'd cell": with_compiled_cell, "own, TorchScript loop": scripted}


def time_it(fn, x, steps: int) -> float:
    tic = time.perf_counter()
    for _ in range(steps):
        fn(x).sum().backward()
    return (time.perf_counter() - tic) / steps * 1000


def case(shape, rounds: int, steps: int) -> dict[str, float]:
    n, length, inputs, hidden = shape
    torch.manual_seed(0)
    ref = nn.LSTM(inputs, hidden, batch_first=True)
    own = RecurrentLayer("lstm", inputs, hidden)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(own, name).copy_(getattr(ref, name + "_l0"))
    fns = {"nn.LSTM (fused)": lambda x: ref(x)[0], "own, plain (eager)": own,
           **formulations(own)}
    for name, kw in VARIANTS.items():
        fns[name] = RecurrentLayer("lstm", inputs, hidden, bn_time_steps=length, **kw).train()
    x = torch.randn(n, length, inputs)
    want = ref(x)[0]
    for name in ("own, plain (eager)", *formulations(own)):
        torch.testing.assert_close(fns[name](x), want, rtol=0, atol=1e-5)
    for fn in fns.values():  # warm-up (and compilation)
        time_it(fn, x, 2)
    best = {name: float("inf") for name in fns}
    for r in range(rounds):
        order = list(fns) if r % 2 == 0 else list(fns)[::-1]
        for name in order:
            best[name] = min(best[name], time_it(fns[name], x, steps))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s); ms per forward + backward "
          "(best of rounds), ratio to nn.LSTM")
    for title, shape in CASES.items():
        best = case(shape, args.rounds, args.steps)
        ref = best["nn.LSTM (fused)"]
        print(f"\n{title} (batch {shape[0]}, {shape[1]} steps, {shape[2]} inputs)")
        for name, ms in best.items():
            print(f"  {name:28s} {ms:8.2f} ms  {ms / ref:5.2f}x")


if __name__ == "__main__":
    main()
