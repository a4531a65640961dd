"""A model from the user's own callable (trainlab.models.imported): called with the data's
input shape and class count plus model.args, checked to be a trainable float32 nn.Module."""

import pytest
import torch

from trainlab.errors import UserError
from trainlab.models.imported import build_callable
from trainlab.training.step import Step

from tests.test_imports import user_module  # noqa: F401  (the fixture)

SOURCE = """
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self, input_shape, num_classes, hidden=8):
            super().__init__()
            self.seen = (input_shape, num_classes)
            self.body = nn.Sequential(nn.Flatten(), nn.Linear(input_shape[0] * input_shape[1],
                                                              hidden),
                                      nn.Tanh(), nn.Linear(hidden, num_classes))

        def forward(self, x):
            return self.body(x)

        @classmethod
        def small(cls, input_shape, num_classes):
            return cls(input_shape, num_classes, hidden=2)

    def make(input_shape, num_classes, **args):
        return nn.Linear(input_shape[-1], num_classes)

    def no_shape():
        return nn.Linear(3, 2)

    def returns(input_shape, num_classes, what):
        return {"none": None, "function": make, "dict": {"w": torch.zeros(2)},
                "no_params": nn.Sequential(nn.ReLU()),
                "frozen": nn.Linear(3, 2).requires_grad_(False),
                "double": nn.Linear(3, 2).double()}[what]
"""


@pytest.fixture
def source(user_module):  # noqa: F811
    return user_module("tl_user_model", SOURCE)


def test_a_module_class_gets_the_shape_the_classes_and_the_args(source):
    net = build_callable(f"{source}:Net", [4, 5], 3, {"hidden": 6})
    assert net.seen == ((4, 5), 3) and net.body[1].out_features == 6
    assert net(torch.zeros(7, 4, 5)).shape == (7, 3)
    assert build_callable(f"{source}:Net.small", (4, 5), 3, {}).body[1].out_features == 2
    assert isinstance(build_callable(f"{source}:make", (3,), 2, {"unused": 1}), torch.nn.Linear)


def test_it_trains_through_the_training_step(source):
    torch.manual_seed(0)
    net = build_callable(f"{source}:Net", (2, 2), 2, {})
    x = torch.randn(64, 2, 2)
    y = (x[:, 0, 0] > x[:, 1, 1]).long()
    step = Step(net, torch.nn.functional.cross_entropy, torch.optim.SGD(net.parameters(), 0.5))
    before = torch.nn.functional.cross_entropy(net(x), y).item()
    for _ in range(50):
        step(x, y)
    assert torch.nn.functional.cross_entropy(net(x), y).item() < 0.5 * before


@pytest.mark.parametrize(
    "what, message",
    [
        ("none", "returned None; expected a torch.nn.Module"),
        ("function", "returned a function; expected a torch.nn.Module"),
        ("dict", "returned a dict; expected a torch.nn.Module"),
        (
            "no_params",
            "returned a Sequential with no trainable parameters (none); there is nothing to train",
        ),
        (
            "frozen",
            "returned a Linear with no trainable parameters (all with requires_grad=False); "
            "there is nothing to train",
        ),
        (
            "double",
            "returned a Linear whose parameter 'weight' is float64; expected float32 (the "
            "data's dtype; train.precision gives bf16/fp16 compute)",
        ),
    ],
)
def test_what_is_not_a_trainable_module_is_one_line(source, what, message):
    with pytest.raises(UserError) as e:
        build_callable(f"{source}:returns", (3,), 2, {"what": what})
    assert str(e.value) == f"model.name = 'tl_user_model:returns': {message}"


def test_a_callable_that_takes_no_shape_says_so(source):
    with pytest.raises(
        UserError,
        match=r"^model.name = 'tl_user_model:no_shape': raised "
        r"TypeError: .*unexpected keyword argument "
        r"'input_shape'$",
    ):
        build_callable(f"{source}:no_shape", (3,), 2, {})


@pytest.mark.parametrize("name", ["input_shape", "num_classes"])
def test_args_cannot_set_what_trainlab_passes(source, name):
    with pytest.raises(UserError) as e:
        build_callable(f"{source}:make", (3,), 2, {name: 5})
    assert str(e.value) == (
        f"model.args.{name} = 5: trainlab passes {name} itself (from the "
        "data) to 'tl_user_model:make'; remove it from model.args"
    )


def test_a_missing_module_names_model_name(user_module):  # noqa: F811
    with pytest.raises(
        UserError,
        match=r"^model.name = 'tl_absent_models:Net': module "
        r"'tl_absent_models' not found",
    ):
        build_callable("tl_absent_models:Net", (3,), 2, {})
