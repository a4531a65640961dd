"""Your own PyTorch model and data with trainlab, two ways.

1. From Python: ``trainlab.fit`` trains your ``nn.Module`` in place with every technique of a
   trainlab config (optimizer, schedule, regularization, early stopping, checkpoints):

       python examples/own_model.py [OUT_FOLDER]

2. From the command line (run from the repository root, so that ``examples.own_model`` imports):
   ``model.name`` and ``data.name`` name a callable as ``package.module:callable``:

       trainlab train model.name=examples.own_model:make_model model.args={width=32} \\
           data.name=examples.own_model:make_data data.args={samples=800} train.epochs=10

   ``trainlab compare``, ``search``, ``lr-find``, ``evaluate`` and ``--resume`` take the same.
"""

from __future__ import annotations

import sys

import numpy as np
import torch
from torch import nn

import trainlab


class TwoLayerNet(nn.Module):
    """A small ReLU network: Linear -> ReLU -> Linear (lecture 001's two-layer net)."""

    def __init__(self, inputs: int, width: int, classes: int):
        super().__init__()
        self.hidden, self.out = nn.Linear(inputs, width), nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.hidden(x.flatten(1))))


def make_model(input_shape: tuple[int, ...], num_classes: int, width: int = 16) -> nn.Module:
    """What ``model.name = examples.own_model:make_model`` calls: trainlab passes the data's
    sample shape and class count, ``model.args`` the rest."""
    return TwoLayerNet(int(np.prod(input_shape)), width, num_classes)


def make_data(samples: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """What ``data.name = examples.own_model:make_data`` calls (with ``data.args``): lecture
    001's two classes on a plane that no line separates (label 1 where x1 x2 > 0)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (samples, 2)).astype(np.float32)
    return x, (x[:, 0] * x[:, 1] > 0).astype(np.int64)


def main(out: str | None = None) -> dict:
    x, y = make_data(800)
    torch.manual_seed(0)  # the network's initial weights, so that every run gives the same numbers
    net = TwoLayerNet(2, 32, 2)
    summary = trainlab.fit(net, train=(x, y), out=out, progress="quiet",
                           overrides=["optimizer.name=adam", "optimizer.lr=0.01",
                                      "optimizer.weight_decay=0", "schedule.name=constant",
                                      "train.epochs=15", "train.batch_size=32"])
    print(f"test accuracy {summary['test_accuracy']:.3f} (best epoch {summary['best_epoch']}), "
          f"run folder {summary['run_dir']}")
    return summary


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
