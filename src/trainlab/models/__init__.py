"""Models by name: :func:`build` makes the one a config asks for, initialized as it asks.

Every model takes a batch of samples shaped as the data set gives them ((N, features),
(N, length), (N, C, length) or (N, C, H, W)) and returns class logits (N, num_classes).
"""

from __future__ import annotations

from torch import nn

from ..registry import Registry
from .cnn import CNN, LAYERS
from .init import initialize
from .local import LocallyConnected1d, LocallyConnected2d
from .mlp import MLP
from .pretrained import freeze, load_pretrained
from .rnn import RecurrentClassifier


def _recurrent(kind: str):
    return lambda m, shape, classes, aux: RecurrentClassifier(
        kind, shape, m["hidden"], classes, m["dropout"], m["dropout_mode"], m["recurrent_norm"],
        m["recurrent_dropout"], m["recurrent_dropout_mode"], m["bn_time_steps"], m["bn_momentum"],
        m["bidirectional"], m["readout"], m["rnn_activation"])


def _cnn(dims: int):
    return lambda m, shape, classes, aux: CNN(dims, shape, m["channels"], classes, m, aux)


# Every architecture, once: ``build(model options, input shape, classes, aux heads?)``;
# ``convolutional``: built of conv blocks, whose layer model.layer chooses; ``recurrent``: reads
# the sample as a sequence (the model.recurrent_* keys apply).
MODELS = Registry("model", "model.name")
MODELS.add("cnn1d", _cnn(1), "1-D convolutional blocks (`model.channels`, `model.kernel_size`, "
           "`model.stride`, `model.padding`, `model.pool`, `model.layer`), then a linear head",
           convolutional=True)
MODELS.add("cnn2d", _cnn(2), "2-D convolutional blocks for images, as cnn1d", convolutional=True)
MODELS.add("mlp", lambda m, shape, classes, aux: MLP(shape, m["hidden"], classes, m, aux),
           "multi-layer perceptron (`model.hidden`, `model.activation`, `model.residual`)")
MODELS.add("linear", lambda m, shape, classes, aux: MLP(shape, [], classes),
           "logistic regression: one linear layer")
MODELS.add("rnn", _recurrent("rnn"), "Elman RNN (tanh or relu: `model.rnn_activation`), one "
           "layer per `model.hidden` entry, "
           "reads MNIST-1D as a sequence (`model.bidirectional`, `model.readout`)",
           recurrent=True)
MODELS.add("gru", _recurrent("gru"), "GRU, as rnn", recurrent=True)
MODELS.add("lstm", _recurrent("lstm"), "LSTM, as rnn", recurrent=True)


def build(config: dict, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """The model ``config["model"]`` describes, for samples of ``input_shape``, initialized,
    pretrained and frozen as it says."""
    m = config["model"]
    model = MODELS[m["name"]].build(m, input_shape, num_classes, config["loss"]["aux_weight"] > 0)
    initialize(model, m["init"], std=m["init_std"], a=m["init_range"], value=m["init_value"],
               bias=m["bias_value"], recurrent=m["init_recurrent"])
    if m["pretrained"]:
        load_pretrained(model, m["pretrained"])
    if m["freeze"]:
        freeze(model, m["freeze"])
    return model


__all__ = ["MODELS", "LAYERS", "CNN", "LocallyConnected1d", "LocallyConnected2d", "MLP",
           "RecurrentClassifier", "build", "freeze", "initialize", "load_pretrained"]
