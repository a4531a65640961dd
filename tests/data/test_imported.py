"""Data from the user's own callable (trainlab.data.imported): each accepted form, read through
the same checks and splits as every source (trainlab.data.prepare), and each mistake one line."""

import numpy as np
import pytest
import torch

from trainlab.data import prepare
from trainlab.data.imported import read_callable
from trainlab.errors import UserError

from tests.test_imports import user_module  # noqa: F401  (the fixture)

SOURCE = """
    import numpy as np
    import torch

    def _xy(n, seed):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(n, 3)).astype(np.float32)
        return x, (x[:, 0] > 0).astype(np.int64)

    def pair(n=50, seed=0):
        return _xy(n, seed)

    def pair_list(n=50):
        return list(_xy(n, 0))

    def four(n=50):
        x, y = _xy(n, 0)
        xt, yt = _xy(20, 1)
        return x, y, xt, yt

    def tensors():
        x, y = _xy(50, 0)
        xt, yt = _xy(20, 1)
        return (torch.tensor(x, requires_grad=True), torch.tensor(y),
                torch.tensor(xt).to(torch.bfloat16), torch.tensor(yt))

    def as_dict(test=False):
        x, y = _xy(50, 0)
        out = {"x": x, "y": y}
        if test:
            xt, yt = _xy(20, 1)
            out.update(x_test=xt, y_test=yt)
        return out

    def regression():
        x, _ = _xy(50, 0)
        return {"x": torch.tensor(x), "y": torch.tensor(x.sum(1), dtype=torch.float64)}

    def returns(what):
        return {"none": None, "three": (1, 2, 3), "array": np.zeros((4, 2)),
                "list_x": ([[0.0, 1.0]] * 4, np.zeros(4, dtype=np.int64)),
                "missing_y": {"x": np.zeros((4, 2))},
                "typo": {"x": np.zeros((4, 2)), "y": np.zeros(4, dtype=int), "X_test": 1},
                "half_test": {"x": np.zeros((4, 2)), "y": np.zeros(4, dtype=int),
                              "x_test": np.zeros((2, 2))}}[what]

    def with_nan():
        x, y = _xy(50, 0)
        x[7, 1] = np.nan
        return x, y

    def bad_labels():
        x, y = _xy(50, 0)
        return x, y, x[:5], np.array([0, 1, 2, 0, 1])

    def float_labels():
        x, y = _xy(50, 0)
        return x, y.reshape(-1, 1).astype(np.float32)

    def boom(n=1):
        raise RuntimeError(f"cannot read shard {n}")
"""


def _splits(arrays):
    return prepare(arrays, seed=0, val_fraction=0.2, test_fraction=0.2, normalize="standard")


@pytest.fixture
def source(user_module):  # noqa: F811
    return user_module("tl_user_data", SOURCE)


def test_x_y_a_pair_or_a_list_with_args(source):
    arrays = read_callable(f"{source}:pair", {"n": 60, "seed": 3})
    assert arrays.x.shape == (60, 3) and arrays.y.dtype == np.int64 and arrays.x_test is None
    assert arrays.task == "classification" and arrays.origin == "data.name = 'tl_user_data:pair'"
    s = _splits(arrays)
    assert s.num_classes == 2 and len(s.x_train) + len(s.x_val) + len(s.x_test) == 60
    assert read_callable(f"{source}:pair_list", {}).x.shape == (50, 3)


def test_four_arrays_keep_their_test_split(source):
    s = _splits(read_callable(f"{source}:four", {}))
    assert len(s.x_test) == 20 and len(s.x_train) + len(s.x_val) == 50


def test_torch_tensors_become_numpy_on_the_cpu(source):
    arrays = read_callable(f"{source}:tensors", {})
    assert all(
        isinstance(a, np.ndarray) for a in (arrays.x, arrays.y, arrays.x_test, arrays.y_test)
    )
    assert arrays.x_test.dtype == np.float32  # bfloat16, which NumPy lacks, widened exactly
    s = _splits(arrays)
    assert s.x_test.shape == (20, 3) and s.y_test.dtype == torch.int64


@pytest.mark.parametrize("test", [False, True])
def test_a_dict_with_or_without_a_test_split(source, test):
    arrays = read_callable(f"{source}:as_dict", {"test": test})
    assert (arrays.x_test is not None) == test and (arrays.y_test is not None) == test
    assert _splits(arrays).num_classes == 2


def test_floating_targets_are_regression(source):
    arrays = read_callable(f"{source}:regression", {})
    assert arrays.task == "regression" and arrays.y.dtype == np.float64
    s = _splits(arrays)
    assert s.task == "regression" and s.num_classes == 1 and s.y_train.dtype == torch.float32


@pytest.mark.parametrize(
    "what, message",
    [
        (
            "none",
            "returned None; expected (x, y), (x, y, x_test, y_test) or a dict with keys x, y "
            "and optional x_test, y_test, each a NumPy array or a torch tensor",
        ),
        ("three", "returned a tuple of 3 items; expected (x, y), "),
        ("array", "returned a numpy.ndarray; expected (x, y), "),
        ("list_x", "returned x as a list of 4 items; expected a NumPy array or a torch tensor"),
        ("missing_y", "returned a dict with no key 'y'; expected (x, y), "),
        ("typo", "returned a dict with unexpected key 'X_test'; expected (x, y), "),
        (
            "half_test",
            "returned x_test and y_test not together (only x_test); give both or neither",
        ),
    ],
)
def test_another_form_is_one_line_naming_what_came_back(source, what, message):
    with pytest.raises(UserError) as e:
        read_callable(f"{source}:returns", {"what": what})
    assert str(e.value).startswith(f"data.name = 'tl_user_data:returns': {message}")
    assert "\n" not in str(e.value)


def test_an_error_in_the_callable_is_one_line(source):
    with pytest.raises(UserError) as e:
        read_callable(f"{source}:boom", {"n": 4})
    assert str(e.value) == (
        "data.name = 'tl_user_data:boom': raised RuntimeError: cannot read shard 4"
    )
    with pytest.raises(
        UserError,
        match=r"^data.name = 'tl_user_data:pair': raised TypeError: "
        r".*unexpected keyword argument 'size'$",
    ):
        read_callable(f"{source}:pair", {"size": 3})
    with pytest.raises(
        UserError,
        match=r"^data.name = 'tl_user_data:pairs': module "
        r"'tl_user_data' .* has no attribute 'pairs'; did you "
        r"mean 'pair'\?$",
    ):
        read_callable(f"{source}:pairs", {})


@pytest.mark.parametrize(
    "name, message",
    [
        ("with_nan", "x has 1 NaN/Inf values (first in sample 7); remove or impute them"),
        ("bad_labels", "y_test holds label 2, but the training labels are 0..1"),
        (
            "float_labels",
            "y has shape (50, 1) and dtype float32; expected (50,) real regression targets",
        ),
    ],
)
def test_the_checks_every_source_gets_name_the_callable(source, name, message):
    # prepare's own checks, not repeated in read_callable: the source named as data.name = ...
    with pytest.raises(UserError) as e:
        _splits(read_callable(f"{source}:{name}", {}))
    assert str(e.value) == f"data.name = 'tl_user_data:{name}': {message}"
