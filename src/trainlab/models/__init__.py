"""Models by name: :func:`make` builds a registered architecture from its options
(:func:`trainlab.build.model` does it for a config, initialized, pretrained and frozen).

Every model takes a batch of samples shaped as the data set gives them ((N, features),
(N, length), (N, C, length) or (N, C, H, W)) and returns class logits (N, num_classes).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ..registry import Registry
from .cnn import CNN, LAYERS
from .init import initialize
from .local import LocallyConnected1d, LocallyConnected2d
from .mlp import MLP
from .pretrained import freeze, load_pretrained
from .rnn import RecurrentClassifier


@dataclass(frozen=True)
class ModelInfo:
    """What the rest of trainlab needs to know of an architecture: the ``model.*`` keys its
    builder takes as keyword arguments (``reads``), and whether it is built of conv blocks
    (``convolutional``: its width is ``model.channels``)."""

    reads: tuple[str, ...] = ()
    convolutional: bool = False


_BLOCK_KEYS = (
    "activation",
    "norm",
    "dropout",
    "dropout_mode",
    "input_dropout",
    "hidden_noise",
    "bn_momentum",
    "norm_layers",
)
_CNN_KEYS = (
    "channels",
    "kernel_size",
    "stride",
    "padding",
    "pool",
    "pool_size",
    "pool_stride",
    "maxout_pieces",
    "contrast_norm",
    "layer",
    *_BLOCK_KEYS,
)
_RECURRENT_KEYS = (
    "hidden",
    "dropout",
    "dropout_mode",
    "recurrent_norm",
    "recurrent_dropout",
    "recurrent_dropout_mode",
    "bn_time_steps",
    "bn_momentum",
    "bidirectional",
    "readout",
)


def _recurrent(kind: str):
    return lambda shape, classes, *, aux_heads, hidden, **options: RecurrentClassifier(
        kind, shape, hidden, classes, **options
    )


def _cnn(dims: int):
    return lambda shape, classes, *, channels, **options: CNN(
        dims, shape, channels, classes, **options
    )


# Every architecture, once: ``build(input_shape, num_classes, aux_heads=..., **{key: value for
# key in reads})`` -> nn.Module.
MODELS = Registry("model", "model.name", ModelInfo, config_key=True)
MODELS.add(
    "cnn1d",
    _cnn(1),
    "1-D convolutional blocks (`model.channels`, `model.kernel_size`, "
    "`model.stride`, `model.padding`, `model.pool`, `model.layer`, `model.maxout_pieces`, "
    "`model.contrast_norm`), then a linear head",
    reads=_CNN_KEYS,
    convolutional=True,
)
MODELS.add(
    "cnn2d",
    _cnn(2),
    "2-D convolutional blocks for images, as cnn1d",
    reads=_CNN_KEYS,
    convolutional=True,
)
MODELS.add(
    "mlp",
    lambda shape, classes, *, hidden, **options: MLP(shape, hidden, classes, **options),
    "multi-layer perceptron (`model.hidden`, `model.activation`, `model.residual`)",
    reads=("hidden", "residual", *_BLOCK_KEYS),
)
MODELS.add(
    "linear",
    lambda shape, classes, *, aux_heads: MLP(shape, [], classes),
    "logistic regression: one linear layer",
)
MODELS.add(
    "rnn",
    _recurrent("rnn"),
    "Elman RNN (tanh or relu: `model.rnn_activation`), one "
    "layer per `model.hidden` entry, "
    "reads MNIST-1D as a sequence (`model.bidirectional`, `model.readout`)",
    reads=(*_RECURRENT_KEYS, "rnn_activation"),
)
MODELS.add("gru", _recurrent("gru"), "GRU, as rnn", reads=_RECURRENT_KEYS)
MODELS.add("lstm", _recurrent("lstm"), "LSTM, as rnn", reads=_RECURRENT_KEYS)


def make(
    name: str,
    input_shape: tuple[int, ...],
    num_classes: int,
    options: dict,
    *,
    aux_heads: bool = False,
) -> nn.Module:
    """The architecture ``name`` for samples of ``input_shape``: of ``options`` (``model.*``
    keys), the ones its registry entry reads are its keyword arguments."""
    entry = MODELS[name]
    return entry.build(
        input_shape, num_classes, aux_heads=aux_heads, **{key: options[key] for key in entry.reads}
    )


__all__ = [
    "MODELS",
    "LAYERS",
    "CNN",
    "LocallyConnected1d",
    "LocallyConnected2d",
    "MLP",
    "ModelInfo",
    "RecurrentClassifier",
    "freeze",
    "initialize",
    "load_pretrained",
    "make",
]
