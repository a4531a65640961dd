"""Per-layer diagnostics (lectures 002 and 004: vanishing gradients in sigmoid networks,
saturation, dead units, the effect of initialization).

After every epoch, on a fixed probe batch (the first 512 training samples, model in evaluation
mode so that dropout is off and no random numbers are drawn), for every weighted layer
(Linear, Conv, recurrent):

- ``grad_norm``: ||dL/dW||_2 of the probe batch's loss;
- ``weight_norm``: ||W||_2;
- ``update_ratio``: ||W_e - W_{e-1}|| / ||W_{e-1}||, how much the epoch moved the weights
  (the rule of thumb wants ~1e-3 per update);

and for every activation layer (sigmoid, tanh, ReLU, leaky ReLU):

- ``act_mean``, ``act_std`` of its outputs;
- ``saturated``: the fraction of sigmoid outputs outside [0.05, 0.95], or of tanh outputs with
  |a| > 0.95, where the derivative is below ~0.05 (sigmoid) / ~0.1 (tanh) of its maximum;
- ``dead``: for ReLU, the fraction of units (features, or channels) that output 0 for every probe
  sample.

Rows go to ``diagnostics.jsonl`` (one per epoch and layer, naming the module by ``layer``, its
name in the model, and ``position``, its index in ``model.named_modules()``); :func:`plot` draws
each measure as a heat map of layer x epoch, the layers labelled "layer 1 (Linear)", "layer 1
(ReLU)", ... from the input.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from ..models.init import WEIGHTED as INIT_WEIGHTED
from ..models.layers import ACTIVATIONS as ACTIVATION_NAMES
from ..runs.rundir import read_jsonl, write_jsonl

WEIGHTED = INIT_WEIGHTED  # the layers with weights: linear, conv, recurrent, locally connected
ACTIVATIONS = tuple(e.build for e in ACTIVATION_NAMES.entries())  # the activation classes
PROBE = 512


class Diagnostics:
    def __init__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn, path: Path):
        self.model, self.loss_fn, self.path = model, loss_fn, path
        self.x, self.y = x[:PROBE], y[:PROBE]
        self.weighted = [(n, m) for n, m in model.named_modules() if isinstance(m, WEIGHTED)]
        self.activations = [(n, m) for n, m in model.named_modules() if isinstance(m, ACTIVATIONS)]
        self.position = {n: i for i, (n, _) in enumerate(model.named_modules())}
        self.previous = self._weights()

    def _weights(self) -> dict[str, torch.Tensor]:
        return {
            n: torch.cat(
                [p.detach().reshape(-1) for p in m.parameters(recurse=False) if p.dim() > 1]
            ).clone()
            for n, m in self.weighted
        }

    def record(self, epoch: int) -> list[dict]:
        outputs: dict[str, torch.Tensor] = {}
        hooks = [
            m.register_forward_hook(
                lambda mod, inp, out, name=n: outputs.__setitem__(name, out.detach())
            )
            for n, m in self.activations
        ]
        training = self.model.training
        self.model.eval()
        try:
            with torch.enable_grad():
                loss = self.loss_fn(self.model(self.x), self.y)
                params = [
                    [p for p in m.parameters(recurse=False) if p.dim() > 1 and p.requires_grad]
                    for _, m in self.weighted
                ]
                flat = [p for group in params for p in group]
                grads = torch.autograd.grad(loss, flat, allow_unused=True) if flat else []
        finally:
            for h in hooks:
                h.remove()
            self.model.train(training)
        rows, k = [], 0
        current = self._weights()
        for (name, _), group in zip(self.weighted, params):
            g = [gr for gr in grads[k : k + len(group)] if gr is not None]
            k += len(group)
            w, w0 = current[name], self.previous[name]
            rows.append(
                {
                    "epoch": epoch,
                    "layer": name,
                    "position": self.position[name],
                    "kind": "weights",
                    "module": type(dict(self.weighted)[name]).__name__,
                    "grad_norm": float(torch.sqrt(sum((x**2).sum() for x in g))) if g else 0.0,
                    "weight_norm": float(w.norm()),
                    "update_ratio": float((w - w0).norm() / w0.norm().clamp_min(1e-12)),
                }
            )
        self.previous = current
        for name, module in self.activations:
            a = outputs.get(name)
            if a is None:
                continue
            row = {
                "epoch": epoch,
                "layer": name,
                "position": self.position[name],
                "kind": type(module).__name__,
                "act_mean": float(a.mean()),
                "act_std": float(a.std()),
            }
            if isinstance(module, nn.Sigmoid):
                row["saturated"] = float(((a < 0.05) | (a > 0.95)).float().mean())
            elif isinstance(module, nn.Tanh):
                row["saturated"] = float((a.abs() > 0.95).float().mean())
            elif isinstance(module, nn.ReLU):
                units = a.transpose(0, 1).reshape(a.shape[1], -1)  # (features or channels, rest)
                row["dead"] = float((units.amax(1) <= 0).float().mean())
            rows.append(row)
        write_jsonl(self.path, rows, append=True)
        return rows


MEASURES = [
    ("grad_norm", "gradient norm ||dL/dW||", True),
    ("weight_norm", "weight norm ||W||", True),
    ("update_ratio", "update / weight ratio per epoch", True),
    ("act_mean", "activation mean", False),
    ("act_std", "activation std", False),
    ("saturated", "fraction saturated (sigmoid / tanh)", False),
    ("dead", "fraction of dead ReLUs", False),
]


def _order(rows: list[dict]):
    """A sort key for module names: their place in the network (``position``, the index in
    ``model.named_modules()``); for rows recorded without it, the name with numbers compared as
    numbers ("net.10" after "net.9")."""
    position = {r["layer"]: r["position"] for r in rows if "position" in r}

    def key(name: str) -> tuple:
        parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in name.split("."))
        return (position.get(name, -1), parts)

    return key


def layer_labels(rows: list[dict]) -> dict[str, str]:
    """A reader's name for each module in ``rows``: the weighted layers numbered from the input
    ("layer 1 (Linear)"), and each activation named after the layer it follows ("layer 1
    (ReLU)"), in the modules' order; not "net.0", "net.1"."""
    kinds = {r["layer"]: r.get("module") if r["kind"] == "weights" else r["kind"] for r in rows}
    labels, k = {}, 0
    for name in sorted(kinds, key=_order(rows)):
        weighted = any(r["layer"] == name and r["kind"] == "weights" for r in rows)
        k += weighted
        where = f"layer {k}" if k else "input"
        labels[name] = f"{where} ({kinds[name]})" if kinds[name] else where
    return labels


def plot(rows: list[dict], path: Path, title: str = ""):
    """Heat maps, layer (rows, input side at the top) x epoch, one per measure present.
    Returns the figure."""
    import numpy as np
    from matplotlib.colors import LogNorm

    from ..analysis import style

    present = [(k, t, log) for k, t, log in MEASURES if any(k in r for r in rows)]
    lines = math.ceil(len(present) / 2)
    fig, axes = style.figure(10, 2.4 * lines + 0.5, lines, 2, squeeze=False)
    axes = axes.flat
    epochs = sorted({r["epoch"] for r in rows})
    names, order = layer_labels(rows), _order(rows)
    for (key, label, log), ax in zip(present, axes):
        layers = sorted(dict.fromkeys(r["layer"] for r in rows if key in r), key=order)
        grid = np.full((len(layers), len(epochs)), np.nan)
        for r in rows:
            if key in r:
                grid[layers.index(r["layer"]), epochs.index(r["epoch"])] = r[key]
        positive = grid[np.isfinite(grid) & (grid > 0)]
        norm = (
            LogNorm(positive.min(), positive.max())
            if log and positive.size and positive.min() < positive.max()
            else None
        )
        image = ax.imshow(
            np.where(grid > 0, grid, np.nan) if norm else grid,
            aspect="auto",
            cmap="viridis",
            norm=norm,
            interpolation="nearest",
            extent=(epochs[0] - 0.5, epochs[-1] + 0.5, len(layers) - 0.5, -0.5),
        )
        ax.set_yticks(range(len(layers)), [names[n] for n in layers], fontsize=7)
        ax.set_xlabel("epoch")
        style.integer_ticks(ax.xaxis)
        ax.set_title(label, fontsize=10)
        fig.colorbar(image, ax=ax)
    for ax in axes:  # the unused ones
        ax.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=10)
    return style.save(fig, path)


def read(path: Path, upto_epoch: int | None = None) -> list[dict]:
    """The rows of diagnostics.jsonl, those of epochs up to ``upto_epoch`` if given."""
    advice = f"delete it and run trainlab diagnose {str(path.parent)!r} again (it records anew)"
    rows = read_jsonl(path, advice)
    return [r for r in rows if upto_epoch is None or r.get("epoch", 0) <= upto_epoch]
