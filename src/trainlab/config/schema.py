"""Every config key: its default, what it means, and what values it allows.

The names a key chooses among (``data.name``, ``model.name``, ``optimizer.name``, ...) come from
the registries of their families, read when a value is checked (:class:`Names`), so that a name
is declared in one place and one added at run time is valid at once. This module imports no
other part of trainlab but the registry: the configuration sits below every component.

The default config is lecture 000's recipe ("Setting up a problem": data -> architecture ->
divergence -> regularization -> heuristics -> optimizer -> train with periodic validation and
early stopping) instantiated for MNIST-1D.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..registry import for_key

MONITORS = ("val_accuracy", "val_loss", "train_accuracy", "train_loss")


class Names:
    """The names a config key chooses among: ``extra`` fixed ones, then those of the registry
    that ``key`` names (:func:`trainlab.registry.for_key`) whose facts match ``facts``, read
    each time (iterates and tests membership like a tuple)."""

    def __init__(self, key: str, *extra: str, **facts: Any):
        self.key, self.extra, self.facts = key, extra, facts

    def __iter__(self):
        yield from self.extra
        yield from for_key(self.key).names(**self.facts)

    def __contains__(self, name: object) -> bool:
        return name in tuple(self)


@dataclass(frozen=True)
class Key:
    """One config key: default, one-line meaning (a string, or a function that writes it from
    the registries), and an optional extra check."""

    default: Any
    doc: str | Callable[[], str]
    choices: tuple | Names | None = None
    check: Callable[[Any], str | None] | None = None  # returns what is allowed, or None if ok
    types: tuple = field(default=())  # accepted types when more than the default's type

    @property
    def meaning(self) -> str:
        return self.doc() if callable(self.doc) else self.doc


def _positive(v):
    return None if v > 0 else "a number > 0"


def _at_least_one(v):
    return None if v >= 1 else "an integer >= 1"


def _non_negative(v):
    return None if v >= 0 else "a number >= 0"


def _seed(v):
    return None if 0 <= v < 2**63 else "an integer from 0 to 9223372036854775807 (2**63 - 1)"


def _unit_open(v):
    return None if 0 <= v < 1 else "a number in [0, 1)"


def _fraction(v):
    return None if 0 < v < 1 else "a number in (0, 1)"


def _widths(v):
    ok = all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in v)
    return None if ok else "a list of positive integers"


def _at_least(low: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low


def _odd(v) -> bool:
    return _at_least(1)(v) and v % 2 == 1


def _per_block(ok: Callable[[Any], bool], allowed: str) -> Callable[[Any], str | None]:
    """A check for a value given once for every block or as a list with one per block."""

    def check(v):
        values = v if isinstance(v, list) else [v]
        return (
            None
            if values and all(ok(e) for e in values)
            else f"{allowed}, or a non-empty list of them (one per block)"
        )

    return check


def _batch_size(v):
    if v == "full" or (isinstance(v, int) and not isinstance(v, bool) and v >= 1):
        return None
    return 'an integer >= 1 (1 = online GD, b = minibatch) or "full" (batch GD)'


def _pair(ok: Callable[[float, float], bool], allowed: str) -> Callable[[list], str | None]:
    def check(v):
        numbers = len(v) == 2 and all(
            isinstance(e, (int, float)) and not isinstance(e, bool) for e in v
        )
        return None if numbers and ok(*v) else allowed

    return check


def _slow_worker(v):
    index, sep, seconds = v.partition(":")
    try:
        ok = not v or (sep and int(index) >= 0 and float(seconds) >= 0)
    except ValueError:
        ok = False
    return (
        None
        if ok
        else '"i:seconds" (worker i, counted from 0, waits this long before each '
        'gradient) or "" (none)'
    )


def _average_start(v):
    ok = 0 <= v < 1 or (v >= 1 and v == int(v))
    return None if ok else "a fraction in [0, 1) of train.epochs or a whole number of epochs"


def _betas(v):
    ok = len(v) == 2 and all(isinstance(b, (int, float)) and 0 <= b < 1 for b in v)
    return None if ok else "two numbers in [0, 1)"


SCHEMA: dict[str, Key] = {
    "seed": Key(0, "seed for weights, data split, toy data, shuffling and dropout", check=_seed),
    "device": Key("auto", "auto = CUDA when present, else CPU", choices=("auto", "cpu", "cuda")),
    "diagnostics": Key(
        False,
        "record per-layer gradient/weight norms, update ratios, activation "
        "statistics, saturation and dead ReLUs every epoch (diagnostics.jsonl, "
        "diagnostics.png)",
    ),
    # data
    "data.name": Key(
        "mnist1d",
        "data set, or your own: package.module:callable (see data.args)",
        choices=Names("data.name"),
    ),
    "data.args": Key(
        {},
        "data.name = package.module:callable: the keyword arguments it is "
        "called with; it returns (x, y) or (x, y, x_test, y_test)",
        types=(dict,),
    ),
    "data.path": Key("", "file (npz, csv) or folder (mnist, fashion_mnist, cifar10) to read"),
    "data.label_column": Key(
        "label",
        "csv: name of the label column; every other column is a feature; several names "
        'separated by commas ("a,b,c") = multi-label targets, one 0/1 column per label',
    ),
    "data.val_fraction": Key(
        0.1,
        "fraction of the training data held out for validation "
        "(seeded); 0 = none: train on all of it, no model selection on a "
        "val_* monitor (the last epoch is evaluated)",
        check=_unit_open,
    ),
    "data.test_fraction": Key(
        0.2, "fraction held out for testing when a source has no test split", check=_fraction
    ),
    "data.normalize": Key(
        "standard",
        "input normalization fitted on the training split only: "
        "standard = per-feature zero mean and unit variance, "
        "scalar = one mean and std for all features, none",
        choices=("standard", "scalar", "none"),
    ),
    "data.remap_labels": Key(
        False,
        "number the distinct class labels 0..C-1 in sorted order (labels must otherwise be "
        "0..C-1 with every class present)",
    ),
    "data.samples": Key(
        1000,
        "toy sets (moons, circles, spirals, xor), adding: number of samples",
        check=lambda v: None if v >= 10 else "an integer >= 10",
    ),
    "data.noise": Key(
        0.1, "toy sets: standard deviation of the Gaussian noise on each point", check=_non_negative
    ),
    "data.seq_len": Key(
        50, "adding: length of each sequence", check=lambda v: None if v >= 2 else "an integer >= 2"
    ),
    # model
    "model.name": Key(
        "cnn1d",
        "architecture, or your own: package.module:callable (see model.args)",
        choices=Names("model.name"),
    ),
    "model.args": Key(
        {},
        "model.name = package.module:callable: keyword arguments it is called "
        "with, besides input_shape and num_classes; it returns an nn.Module",
        types=(dict,),
    ),
    "model.hidden": Key(
        [256, 256],
        "mlp: hidden layer widths; rnn/gru/lstm: one width per recurrent layer",
        check=_widths,
    ),
    "model.channels": Key(
        [32, 32, 64, 64],
        "cnn1d/cnn2d: channels of each conv block; every "
        "block after the first halves the length by pooling",
        check=_widths,
    ),
    "model.kernel_size": Key(
        5,
        "cnn1d/cnn2d: convolution kernel size (odd), or a list with one per block",
        check=_per_block(_odd, "an odd integer >= 1"),
        types=(int, list),
    ),
    "model.stride": Key(
        1,
        "cnn1d/cnn2d: convolution stride, or a list with one per block; the "
        "output length is (L + 2 padding - kernel) // stride + 1",
        check=_per_block(_at_least(1), "an integer >= 1"),
        types=(int, list),
    ),
    "model.padding": Key(
        "same",
        "cnn1d/cnn2d: zeros added on each side of the input of each "
        'convolution: "same" = kernel // 2 (the length is kept at stride 1), '
        "an integer, or a list with one per block",
        check=_per_block(lambda v: v == "same" or _at_least(0)(v), '"same" or an integer >= 0'),
        types=(str, int, list),
    ),
    "model.pool": Key(
        "max",
        "cnn1d/cnn2d: pooling after every block but the first (by default "
        "it halves the size): max, avg, or sum over each window (lecture 001: 'sum or max'); "
        "none = no pooling (e.g. strided convolutions instead)",
        choices=("max", "avg", "sum", "none"),
    ),
    "model.pool_size": Key(
        2, "cnn1d/cnn2d: pooling window, in positions per dimension", check=_at_least_one
    ),
    "model.pool_stride": Key(
        2,
        "cnn1d/cnn2d: pooling stride, at most model.pool_size; smaller than the window = "
        "overlapping pooling (lecture 001; AlexNet: window 3, stride 2)",
        check=_at_least_one,
    ),
    "model.maxout_pieces": Key(
        1,
        "cnn1d/cnn2d: k > 1 = maxout units, max-pooling across groups of k feature maps "
        "(lecture 001 'pooling across feature groups'; Goodfellow et al. 2013): each "
        "block's layer makes k x model.channels maps, the max of each k consecutive is kept; "
        "1 = off",
        check=_at_least_one,
    ),
    "model.contrast_norm": Key(
        0,
        "cnn1d/cnn2d: n > 0 = contrast normalization across feature maps after each "
        "block's pooling (lecture 001): nn.LocalResponseNorm over n neighbouring maps, "
        "AlexNet's k = 2, alpha = 1e-4, beta = 0.75; 0 = off",
        check=_non_negative,
    ),
    "model.layer": Key(
        "conv",
        "cnn1d/cnn2d: each block's weight layer: convolution, or locally "
        "connected (a filter per position; lecture 004)",
        choices=Names("model.layer"),
    ),
    "model.residual": Key(
        False,
        "mlp: a hidden layer whose input and output widths agree adds "
        "its input, h + f(h) (He et al. 2016; the MNIST-1D paper's MLP)",
    ),
    "model.activation": Key(
        "relu", "hidden activation (mlp, cnn)", choices=Names("model.activation")
    ),
    "model.norm": Key(
        "batch", "normalization after each hidden linear/conv layer", choices=Names("model.norm")
    ),
    "model.norm_layers": Key(
        [],
        "mlp, cnn: the hidden layers / conv blocks, numbered from 1, that get model.norm "
        "(lecture 000 s130: 'batch normalization may only be applied to some layers'); the "
        "others get none and a bias; [] = every one",
        check=_widths,
    ),
    "model.dropout": Key(
        0.1,
        "inverted dropout probability after each hidden layer (mlp, cnn, between recurrent layers)",
        check=_unit_open,
    ),
    "model.dropout_mode": Key(
        "inverted",
        "inverted: scale kept units by 1/(1-p) in training "
        "(PyTorch's); original: no scaling in training, multiply by 1-p at "
        "test time (lecture 000)",
        choices=("inverted", "original"),
    ),
    "model.input_dropout": Key(
        0.0, "dropout probability on the inputs (mlp, cnn)", check=_unit_open
    ),
    "model.hidden_noise": Key(
        0.0,
        "std of Gaussian noise added to every hidden activation in training (mlp, cnn)",
        check=_non_negative,
    ),
    "model.bn_momentum": Key(
        0.1, "batch norm: running-average momentum (PyTorch's convention)", check=_fraction
    ),
    "model.bn_stats": Key(
        "auto",
        "batch norm at inference: running averages, or population "
        "statistics recomputed over the training set before each evaluation, "
        "with the B/(B-1) correction (lecture 000 s129); auto = population when an epoch has "
        "fewer than 1 / model.bn_momentum updates (too few for running averages to settle, "
        "e.g. train.batch_size = full), running otherwise; summary.json's techniques say which",
        choices=("auto", "running", "population"),
    ),
    "model.init": Key(
        "default",
        "weight initialization (torch.nn.init); biases start at 0 except with default",
        choices=Names("model.init", recurrent_only=None),
    ),
    "model.init_std": Key(1.0, "init = normal: standard deviation", check=_positive),
    "model.init_range": Key(0.1, "init = uniform: weights ~ U(-a, a) with this a", check=_positive),
    "model.init_value": Key(0.01, "init = constant: every weight's value"),
    "model.bias_value": Key(0.0, "initial value of every bias (unless init = default)"),
    "model.init_recurrent": Key(
        "same",
        "rnn/gru/lstm hidden-to-hidden weights: same as "
        "model.init, identity (Le et al. 2015) or orthogonal",
        choices=Names("model.init", "same", recurrent=True),
    ),
    "model.recurrent_norm": Key(
        "none",
        "rnn/gru/lstm: normalization inside the cell: batch = "
        "recurrent batch norm (Cooijmans et al. 2016), layer = layer norm "
        "(Ba et al. 2016); model.norm is for mlp/cnn layers",
        choices=("none", "batch", "layer"),
    ),
    "model.bn_time_steps": Key(
        100,
        "recurrent_norm = batch: time steps with their own "
        "statistics; later steps use the last one's",
        check=_at_least_one,
    ),
    "model.recurrent_dropout": Key(
        0.0, "rnn/gru/lstm: dropout probability of model.recurrent_dropout_mode", check=_unit_open
    ),
    "model.recurrent_dropout_mode": Key(
        "zaremba",
        "zaremba: between layers only, a new mask per "
        "step (Zaremba et al. 2014); variational: one mask per "
        "sequence on inputs and state (Gal & Ghahramani 2016); "
        "semeniuta: on the gated cell's candidate (Semeniuta et "
        "al. 2016)",
        choices=("zaremba", "variational", "semeniuta"),
    ),
    "model.rnn_activation": Key(
        "tanh",
        "rnn: the Elman cell's nonlinearity, h_t = "
        "act(W_ih x_t + W_hh h_(t-1) + b); relu with "
        "model.init_recurrent = identity is Le et al. 2015's IRNN "
        "(lecture 003)",
        choices=("tanh", "relu"),
    ),
    "model.bidirectional": Key(
        False,
        "rnn/gru/lstm: every layer also reads the sequence "
        "backwards; its outputs are [forward, backward] (2 x width; "
        "Schuster & Paliwal 1997)",
    ),
    "model.readout": Key(
        "last",
        "rnn/gru/lstm: what the head reads: last = the final state "
        "(bidirectional: each direction's), all = every step's outputs "
        "flattened (the MNIST-1D paper's GRU), mean = their mean over steps",
        choices=("last", "all", "mean"),
    ),
    "model.pretrained": Key(
        "",
        "start from the weights of this run folder (its best.pt) or "
        "checkpoint file; tensors whose name and shape match are copied",
    ),
    "model.freeze": Key(
        [],
        'name prefixes of parameters to freeze, e.g. ["net.0"]',
        check=lambda v: None if all(isinstance(x, str) for x in v) else "a list of strings",
    ),
    # loss
    "loss.name": Key(
        "cross_entropy",
        "divergence between the output and the target "
        "(trainlab.training.losses gives each formula)",
        choices=Names("loss.name"),
    ),
    "loss.label_smoothing": Key(
        0.0,
        lambda: (
            "label smoothing epsilon: target (1 - eps) one-hot + "
            f"eps / C ({', '.join(Names('loss.name', smooths=True))})"
        ),
        check=_unit_open,
    ),
    "loss.confidence_penalty": Key(
        0.0,
        "beta: subtract beta * entropy of the output distribution (Pereyra et al. 2017)",
        check=_non_negative,
    ),
    "loss.confidence_threshold": Key(
        0.0,
        "Gamma > 0: the confidence penalty acts only below this entropy, beta * mean_n "
        "max(0, Gamma - H(softmax(z_n))) (Pereyra et al. 2017; lecture 003 s73-74, 'enforce "
        "entropy to be above some threshold'); 0 = the plain penalty -beta * H",
        check=_non_negative,
    ),
    "loss.smoothing_prior": Key(
        "uniform",
        "label smoothing's prior u: target (1 - eps) one-hot + eps u; uniform u_k = 1 / C, "
        "unigram u_k = the class frequencies of the training split (lecture 003 s71-72; "
        "Szegedy et al. 2016)",
        choices=("uniform", "unigram"),
    ),
    "loss.target_noise": Key(
        0.0,
        lambda: (
            "std of Gaussian noise added to the soft targets in "
            f"training ({', '.join(Names('loss.name', soft_targets=True))})"
        ),
        check=_non_negative,
    ),
    "loss.aux_weight": Key(
        0.0,
        "auxiliary classifiers (mlp, cnn): a head on every hidden block, "
        "its loss added with this weight in training (Lee et al. 2015); 0 = off",
        check=_non_negative,
    ),
    # regularization
    "regularization.l2": Key(
        0.0,
        "lambda of the penalty lambda/2 * sum w^2 added to the loss "
        "(unlike optimizer.weight_decay, it passes through the optimizer's "
        "scaling, e.g. Adam's)",
        check=_non_negative,
    ),
    "regularization.l1": Key(
        0.0, "lambda of the penalty lambda * sum |w| added to the loss", check=_non_negative
    ),
    "regularization.l2_per_layer": Key(
        [],
        "one lambda_l per weight layer (linear, conv, recurrent weights, in the model's order, "
        "the output layer last): the penalty sum_l lambda_l/2 ||W_l||^2 added to the loss "
        "(lecture 004, 'per-layer regularization'); [] = none",
        check=lambda v: (
            None
            if all(isinstance(x, (int, float)) and not isinstance(x, bool) and x >= 0 for x in v)
            else "a list of numbers >= 0"
        ),
    ),
    "regularization.l1_activations": Key(
        0.0,
        "lambda of the penalty lambda * mean over the batch of sum |h| over every hidden "
        "activation h (mlp, cnn; lecture 000 s153: 'L1 regularization of network activations')",
        check=_non_negative,
    ),
    "regularization.exclude_bias_and_norm": Key(
        False, "penalties and optimizer.weight_decay skip biases and normalization parameters"
    ),
    "regularization.input_noise": Key(
        0.0, "std of Gaussian noise added to every training input", check=_non_negative
    ),
    "regularization.weight_noise": Key(
        0.0,
        "std of Gaussian noise added to the weights for each "
        "forward/backward pass, removed before the update",
        check=_non_negative,
    ),
    # augmentation
    "augment.shift": Key(
        0.0,
        "random shift per sample: 1-D signals up to this many positions, "
        "images up to this fraction of their size; 0 = off",
        check=_non_negative,
    ),
    "augment.stretch": Key(
        0.0,
        "random scale per sample by a factor in [1 - s, 1 + s] (1-D stretch, image zoom)",
        check=_unit_open,
    ),
    "augment.rotate": Key(
        0.0, "images: random rotation up to this many degrees", check=_non_negative
    ),
    "augment.noise": Key(
        0.0, "std of Gaussian noise added after the geometric transforms", check=_non_negative
    ),
    # optimizer
    "optimizer.name": Key(
        "adamw",
        "optimizer; momentum and nesterov mean sgd with that "
        "(momentum 0.9 unless optimizer.momentum is set)",
        choices=Names("optimizer.name"),
    ),
    "optimizer.lr": Key(
        0.01,
        lambda: (
            "learning rate (the peak rate for one_cycle); this default "
            "is the recipe's, for adamw; an optimizer.name chosen without "
            "optimizer.lr gets its usual rate: "
            + ", ".join(
                f"{e.name} {e.usual_lr:g}"
                for e in for_key("optimizer.name").entries()
                if e.expand is None and e.name != "adamw"
            )
            + " (adamw, the recipe's, keeps 0.01)"
        ),
        check=_positive,
    ),
    "optimizer.momentum": Key(0.0, "sgd, rmsprop: momentum", check=_unit_open),
    "optimizer.nesterov": Key(False, "sgd: Nesterov's accelerated gradient (needs momentum > 0)"),
    "optimizer.momentum_form": Key(
        "torch",
        "sgd, momentum, nesterov: torch = PyTorch's v = mu v + g, w -= lr v; lecture = lecture "
        "000's dW = mu dW - lr g, w += dW (s16-18), Nesterov's gradient at w + mu dW (s24-28); "
        "the same at a constant rate, not when a schedule changes it",
        choices=("torch", "lecture"),
    ),
    "optimizer.weight_decay": Key(
        0.05,
        "L2 weight decay (decoupled for adamw); this default is the recipe's, for adamw; an "
        "optimizer.name chosen without optimizer.weight_decay gets 0 (no decay unless set)",
        check=_non_negative,
    ),
    "optimizer.betas": Key([0.9, 0.999], "adam, adamw: (beta1, beta2)", check=_betas),
    "optimizer.eps": Key(1e-8, "adagrad, rmsprop, adadelta, adam, adamw: epsilon", check=_positive),
    "optimizer.alpha": Key(0.99, "rmsprop: smoothing constant", check=_unit_open),
    "optimizer.eps_inside_sqrt": Key(
        False,
        "rmsprop: divide by sqrt(E[g^2] + eps) as lecture 000 (s92) writes it, instead of "
        "PyTorch's sqrt(E[g^2]) + eps",
    ),
    "optimizer.bias_correction": Key(
        True,
        "adam: divide the moments by 1 - beta^t (Kingma & Ba 2015; lecture 003 s47 says why); "
        "false = lecture 002's form without",
    ),
    "optimizer.rho": Key(0.9, "adadelta: smoothing constant", check=_unit_open),
    "optimizer.variant": Key(
        "irprop-",
        "rprop: rprop+ (backtracking), rprop-, irprop+, irprop- (Igel & Huesken 2000)",
        choices=("rprop+", "rprop-", "irprop+", "irprop-"),
    ),
    "optimizer.etas": Key(
        [0.5, 1.2],
        "rprop: (eta_minus, eta_plus) step-size factors",
        check=_pair(
            lambda a, b: 0 < a < 1 < b, "[eta_minus, eta_plus] with 0 < eta_minus < 1 < eta_plus"
        ),
    ),
    "optimizer.step_sizes": Key(
        [1e-6, 50.0],
        "rprop: (smallest, largest) step size",
        check=_pair(lambda a, b: 0 <= a <= b, "[min, max] with 0 <= min <= max"),
    ),
    "optimizer.max_growth": Key(
        1.75,
        "quickprop: largest step as a multiple of the previous one",
        check=lambda v: None if v > 1 else "a number > 1",
    ),
    "optimizer.damping": Key(
        1.0,
        "newton: lambda in (H + lambda I)^-1 g; diag_newton: mu in g / (|h_ii| + mu); the start "
        "when optimizer.adapt_damping adapts it (from 1e-4 Newton steps onto a saddle of a "
        "small net)",
        check=_non_negative,
    ),
    "optimizer.adapt_damping": Key(
        True,
        "newton, diag_newton: adapt the damping by Levenberg-Marquardt's "
        "rule (x 3/2 when the step did worse than its quadratic model "
        "predicted, x 2/3 when it did as well)",
    ),
    "optimizer.saddle_free": Key(
        False,
        "newton: step (|H| + lambda I)^-1 g, |H| with the absolute eigenvalues of H, away from "
        "saddles (Dauphin et al. 2014; lecture 003 s10-18's second-order model)",
    ),
    "optimizer.hessian_memory_mb": Key(
        1024.0,
        "newton, diag_newton: MiB for the exact Hessian (about 4 n^2 values with its solve; a "
        "larger model is refused) and its rows, formed as many per backward pass as fit",
        check=_positive,
    ),
    "optimizer.max_params": Key(
        5000,
        "diag_newton: exact diagonal up to this many parameters, Hutchinson's estimate above",
        check=_at_least_one,
    ),
    "optimizer.hutchinson_samples": Key(
        1,
        "diag_newton above max_params: Rademacher vectors "
        "averaged in Hutchinson's diagonal estimate per step",
        check=_at_least_one,
    ),
    "optimizer.sgd_lr": Key(
        0.0,
        "swats / train.switch_to_sgd_at: SGD rate after the switch; 0 = SWATS's projected estimate",
        check=_non_negative,
    ),
    # gradient transforms, around any optimizer
    "gradient_noise.eta": Key(
        0.0,
        "Gaussian gradient noise of variance eta / (1 + t)^gamma "
        "(Neelakantan et al. 2015; 0.01-1.0 there); 0 = off",
        check=_non_negative,
    ),
    "gradient_noise.gamma": Key(0.55, "gradient noise: decay exponent gamma", check=_non_negative),
    "gradient_clip.max_value": Key(
        0.0,
        "clip each gradient element to [-v, v] (lecture 000: theta = 5); 0 = off",
        check=_non_negative,
    ),
    "gradient_clip.max_norm": Key(
        0.0, "rescale the gradient to this global L2 norm when larger; 0 = off", check=_non_negative
    ),
    # schedule
    "schedule.name": Key("one_cycle", "learning-rate schedule", choices=Names("schedule.name")),
    "schedule.step_size": Key(10, "step: epochs between decays", check=_at_least_one),
    "schedule.gamma": Key(
        0.1, "step, exponential: factor applied to the rate per decay", check=_fraction
    ),
    "schedule.factor": Key(
        0.1, "plateau: factor applied when validation stops improving", check=_fraction
    ),
    "schedule.patience": Key(
        5,
        "plateau: the rate drops once more than this many epochs passed without improvement",
        check=_non_negative,
    ),
    "schedule.min_lr": Key(0.0, "plateau, cosine: lowest rate", check=_non_negative),
    "schedule.decay": Key(0.1, "inverse_time: k in lr / (1 + k * epoch)", check=_non_negative),
    "schedule.end_factor": Key(0.01, "linear: final rate as a fraction of lr", check=_fraction),
    "schedule.decay_epochs": Key(
        0, "linear: epochs over which the rate falls (then constant); 0 = all", check=_non_negative
    ),
    "schedule.every": Key(
        "auto",
        "when the schedule steps: auto = per update for cosine and one_cycle, per epoch for "
        "the others; update = after every update, its constants counted in updates (step_size "
        "updates, gamma per update, inverse_time lr / (1 + decay k) with k the update count: "
        "Robbins-Monro, lectures 000 s49-56 and 002; linear over decay_epochs updates); "
        "epoch = after every epoch (cosine and one_cycle over the epochs); plateau: per epoch only",
        choices=("auto", "epoch", "update"),
    ),
    "schedule.warmup_epochs": Key(
        0.0,
        "linear warm-up from ~0 to lr over this many epochs, "
        "before any schedule (Goyal et al. 2017); 0 = off",
        check=_non_negative,
    ),
    # training
    "train.epochs": Key(30, "number of passes over the training split", check=_at_least_one),
    "train.batch_size": Key(
        64,
        'samples per update: 1 = online GD, b = minibatch, "full" = batch GD',
        check=_batch_size,
        types=(int, str),
    ),
    "train.shuffle": Key(True, "reshuffle the samples every epoch (seeded); false = fixed order"),
    "train.switch_to_sgd_at": Key(
        0,
        "adam / swats: use SGD from this epoch on (lecture 003, Adam first, then SGD); 0 = never",
        check=_non_negative,
    ),
    "train.threads": Key(
        0,
        "PyTorch CPU threads while this run trains; floating-point sums "
        "depend on it, so a run's numbers are reproduced with its count (compare "
        "and search write the count they use into each run's config); 0 = "
        "PyTorch's default (all cores)",
        check=_non_negative,
    ),
    "train.precision": Key(
        "fp32",
        "arithmetic of the training step's forward pass and loss: "
        "fp32 = float32 throughout (exact, the reference); bf16 = autocast "
        "to bfloat16 (CPU, and CUDA GPUs from Ampere on): matrix products "
        "and convolutions in 16 bits, weights, gradients and optimizer in "
        "float32; helps models whose time goes into large matrix products "
        "or convolutions (on a GPU's tensor cores up to several times the "
        "fp32 rate), not small ones; fp16 = autocast to float16 with a "
        "gradient scaler (CUDA only; for GPUs without bfloat16); validation "
        "and test stay float32",
        choices=("fp32", "bf16", "fp16"),
    ),
    "train.compile": Key(
        False,
        "torch.compile the model for the training step (Inductor: "
        "fused kernels; on CUDA mode reduce-overhead, CUDA graphs, which "
        "removes the per-kernel launch cost that dominates a small model's "
        "step on a GPU); costs seconds to tens of seconds of compilation at "
        "the start, so it helps long runs, little on CPU; needs a C++ "
        "compiler (CPU) or Triton (CUDA); checkpoints hold the plain model",
    ),
    "train.average": Key(
        "none",
        "iterate averaging (lecture 000 s57: averaging improves SGD's O(log T / T) to O(1/T)): "
        "polyak = the mean of the weights after every update (Polyak-Ruppert), ema = their "
        "exponential moving average; validation, model selection, checkpoints and the test "
        "use the average, its batch-norm statistics recomputed over the training split",
        choices=("none", "polyak", "ema"),
    ),
    "train.average_start": Key(
        0.5,
        "average: begin after this many epochs (a whole number), or after this fraction of "
        "train.epochs (below 1); 0 = from the first update",
        check=_average_start,
    ),
    "train.average_decay": Key(
        0.999, "average = ema: w_avg <- decay w_avg + (1 - decay) w", check=_fraction
    ),
    "train.checkpoint_seconds": Key(
        5.0,
        "write the checkpoints at the end of the first epoch "
        "that ends this long after the last write, and at the end; "
        "0 = every epoch",
        check=_non_negative,
    ),
    # distributed SGD (lecture 003, slides 51-60; trainlab.distributed)
    "distributed.mode": Key(
        "none",
        "how the updates are computed: one process, or several "
        "(trainlab.distributed gives each mode)",
        choices=Names("distributed.mode"),
    ),
    "distributed.workers": Key(
        2,
        "hogwild, async, sync: processes computing gradients; "
        "pipeline: stages; ddp: set by torchrun's --nproc-per-node",
        check=_at_least_one,
    ),
    "distributed.backup_workers": Key(
        0,
        "sync: extra workers; each update uses the first "
        "`workers` gradients of the current weights and drops the "
        "rest (Chen et al. 2016)",
        check=_non_negative,
    ),
    "distributed.max_staleness": Key(
        -1,
        "async: reject a gradient whose staleness (updates "
        "applied since its weights were pulled) exceeds this; -1 = "
        "accept all",
        check=lambda v: None if v >= -1 else "an integer >= -1",
    ),
    "distributed.staleness_lr": Key(
        False, "async: scale the rate by 1/staleness for a stale gradient (Zhang et al. 2016)"
    ),
    "distributed.warmup_updates": Key(
        0,
        "async: admit the workers one by one over this many first updates; 0 = all at once",
        check=_non_negative,
    ),
    "distributed.servers": Key(
        1,
        "async, sync: parameter-server shards the parameters are partitioned over",
        check=_at_least_one,
    ),
    "distributed.slow_worker": Key(
        "",
        '"i:seconds": worker i (counted from 0) waits this long '
        "before each gradient, to show stragglers",
        check=_slow_worker,
    ),
    "distributed.micro_batches": Key(
        4, "pipeline: micro-batches each minibatch is cut into", check=_at_least_one
    ),
    "distributed.address": Key(
        "127.0.0.1",
        "address the processes meet at (torch.distributed "
        "has no authentication: use another address only on a trusted "
        "network)",
    ),
    "distributed.port": Key(
        0,
        "port at distributed.address; 0 = a free one",
        check=lambda v: None if 0 <= v < 65536 else "an integer in [0, 65535]",
    ),
    "distributed.timeout": Key(
        60.0,
        "seconds any wait for another process lasts before that process counts as lost",
        check=_positive,
    ),
    "logging.tensorboard": Key(
        False,
        "also write each epoch's metrics for TensorBoard to "
        "<run>/tensorboard (metrics.jsonl stays the source of truth)",
    ),
    # early stopping and model selection
    "early_stopping.monitor": Key(
        "val_accuracy",
        "metric that defines the best epoch (best checkpoint) and early stopping",
        choices=MONITORS,
    ),
    "early_stopping.patience": Key(
        0, "stop after this many epochs without improvement; 0 = never", check=_non_negative
    ),
    "early_stopping.min_delta": Key(
        0.0, "smallest change of the monitor that counts as improvement", check=_non_negative
    ),
    "early_stopping.restore_best": Key(
        True, "evaluate and return the best epoch's weights (else the last epoch's)"
    ),
}

SECTION_DOCS = {
    "data": "where the samples come from and how they are split and normalized",
    "model": "architecture and initialization",
    "loss": "the divergence minimized",
    "regularization": "penalties and noise that fight overfitting (lectures 000, 002, 003)",
    "augment": "random transformations of each training batch, on the device",
    "optimizer": "how gradients become updates",
    "gradient_noise": "noise added to every gradient before the optimizer step",
    "gradient_clip": "gradient clipping before the optimizer step (clipping first, then noise)",
    "schedule": "how the learning rate changes (per epoch; cosine and one_cycle per update; "
    "schedule.every changes when)",
    "train": "the loop",
    "distributed": "several processes: hogwild, parameter server (async, sync), ddp, pipeline",
    "logging": "where else metrics go",
    "early_stopping": "model selection on the validation split",
}
