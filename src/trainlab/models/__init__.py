"""Models by name: :func:`build` makes the one a config asks for, initialized as it asks.

Every model takes a batch of samples shaped as the data set gives them ((N, features),
(N, length), (N, C, length) or (N, C, H, W)) and returns class logits (N, num_classes).
"""

from __future__ import annotations

from torch import nn

from ..errors import UserError
from .cnn import CNN
from .init import initialize
from .mlp import MLP
from .pretrained import freeze, load_pretrained
from .rnn import RecurrentClassifier


def build(config: dict, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """The model ``config["model"]`` describes, for samples of ``input_shape``."""
    m = config["model"]
    name = m["name"]
    aux = config["loss"]["aux_weight"] > 0
    if name == "linear":
        model = MLP(input_shape, [], num_classes)
    elif name == "mlp":
        model = MLP(input_shape, m["hidden"], num_classes, m, aux)
    elif name in ("cnn1d", "cnn2d"):
        model = CNN(int(name[3]), input_shape, m["channels"], num_classes, m, aux)
    elif name in ("rnn", "gru", "lstm"):
        model = RecurrentClassifier(name, input_shape, m["hidden"], num_classes, m["dropout"],
                                    m["dropout_mode"])
    else:  # the config schema lists the valid names; this is a bug guard
        raise UserError(f"model.name = {name!r}: unknown model")
    initialize(model, m["init"], std=m["init_std"], a=m["init_range"], value=m["init_value"],
               bias=m["bias_value"], recurrent=m["init_recurrent"])
    if m["pretrained"]:
        load_pretrained(model, m["pretrained"])
    if m["freeze"]:
        freeze(model, m["freeze"])
    return model


__all__ = ["CNN", "MLP", "RecurrentClassifier", "build", "freeze", "initialize", "load_pretrained"]
