"""The bare algorithm of the lectures (``trainlab train --plain``, ``trainlab.train(...,
plain=True)``): the optimizer's update rule alone, at a constant rate, on the plain loss, as the
decks write gradient descent before they add anything to it (lecture 000's SGD pseudo-code,
s50-51): no weight decay, no dropout, no normalization, no augmentation or noise, no penalties, no
clipping, no iterate averaging, no early stopping.

They are presets (:func:`trainlab.config.resolve`'s ``presets``): a key the chosen model or
optimizer does not read is left out, and every key the user gives (a file or an override) wins.
"""

from __future__ import annotations

PLAIN: dict[str, object] = {
    "schedule.name": "constant",
    "schedule.warmup_epochs": 0.0,
    "optimizer.weight_decay": 0.0,
    "model.norm": "none",
    "model.recurrent_norm": "none",
    "model.dropout": 0.0,
    "model.input_dropout": 0.0,
    "model.recurrent_dropout": 0.0,
    "model.hidden_noise": 0.0,
    "regularization.input_noise": 0.0,
    "regularization.weight_noise": 0.0,
    "gradient_noise.eta": 0.0,
    "loss.target_noise": 0.0,
    "regularization.l1": 0.0,
    "regularization.l2": 0.0,
    "regularization.l2_per_layer": [],
    "regularization.l1_activations": 0.0,
    "loss.label_smoothing": 0.0,
    "loss.confidence_penalty": 0.0,
    "loss.aux_weight": 0.0,
    "augment.shift": 0.0,
    "augment.stretch": 0.0,
    "augment.rotate": 0.0,
    "augment.noise": 0.0,
    "gradient_clip.max_value": 0.0,
    "gradient_clip.max_norm": 0.0,
    "train.average": "none",
    "early_stopping.patience": 0,
}


def described() -> str:
    """The plain presets as one line, ``key=value, ...`` (``--help`` and ``trainlab config``)."""
    return ", ".join(f"{k}={v}" for k, v in PLAIN.items())
