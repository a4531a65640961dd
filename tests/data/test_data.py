import gzip
import re

import numpy as np
import pytest
import torch

from trainlab import build, data
from trainlab.config import resolve
from trainlab.data.idx import FILES
from trainlab.errors import UserError

from tests.sample_files import idx_bytes


def load(*overrides):
    return build.load_data(resolve(None, list(overrides)))


def test_mnist1d_matches_the_package_and_splits_train_only():
    from mnist1d.data import make_dataset

    ref = make_dataset()  # the package's own generator with its defaults
    s = load()
    assert s.x_train.shape == (3600, 40) and s.x_val.shape == (400, 40)
    assert s.x_test.shape == (1000, 40) and s.num_classes == 10
    assert torch.equal(s.y_test, torch.as_tensor(ref["y_test"]))
    # normalization fitted on the training split: exactly standard there, not on the others
    assert s.x_train.mean(0).abs().max() < 1e-5
    assert (s.x_train.std(0, unbiased=False) - 1).abs().max() < 1e-4
    # the validation split is part of the original training split, disjoint from train
    xs = torch.cat([s.x_train, s.x_val]).double()
    assert torch.unique(xs, dim=0).shape[0] == 4000
    # undoing the normalization gives back the package's test samples
    x = np.asarray(ref["x"], dtype=np.float64)
    train_idx = np.setdiff1d(np.arange(4000), np.random.default_rng([0, 2]).permutation(4000)[:400])
    mean, std = x[train_idx].mean(0), x[train_idx].std(0)
    back = s.x_test.double().numpy() * std + mean
    np.testing.assert_allclose(back, ref["x_test"], atol=1e-5)


def test_splits_are_seeded(tmp_path):
    # every sample's feature is its index: the split reveals which samples went where
    n = 200
    x = np.repeat(np.arange(n, dtype=np.float32)[:, None], 2, 1)
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(n) % 2, x_test=x[:10], y_test=np.arange(10) % 2)
    for seed in (1, 2):
        s = load(
            "data.name=npz",
            f"data.path={tmp_path / 'd.npz'}",
            "data.normalize=none",
            f"seed={seed}",
            "data.val_fraction=0.1",
        )
        # the rule: the first 10% of NumPy's permutation from default_rng([seed, 2]) is held out
        perm = np.random.default_rng([seed, 2]).permutation(n)
        assert s.x_val[:, 0].long().tolist() == perm[:20].tolist()
        assert s.x_train[:, 0].long().tolist() == perm[20:].tolist()


@pytest.mark.parametrize("name", ["moons", "circles", "spirals", "xor"])
def test_toy_sets(name):
    s = load(f"data.name={name}", "data.samples=500", "data.noise=0.0")
    assert s.input_shape == (2,) and s.num_classes == 2
    assert len(s.x_train) + len(s.x_val) + len(s.x_test) == 500
    assert abs(s.y_train.float().mean().item() - 0.5) < 0.1  # both classes present


def test_toy_geometry_without_noise():
    c = resolve(None, ["data.name=circles", "data.samples=200", "data.noise=0"])
    a = data.read("circles", c.seed, c.data.to_dict())
    r = np.hypot(a.x[:, 0], a.x[:, 1])
    np.testing.assert_allclose(r, np.where(a.y == 0, 1.0, 0.5), atol=1e-6)
    c = resolve(None, ["data.name=xor", "data.samples=200", "data.noise=0"])
    a = data.read("xor", c.seed, c.data.to_dict())
    assert ((a.x[:, 0] * a.x[:, 1] > 0) == (a.y == 1)).all()


def test_npz(tmp_path):
    rng = np.random.default_rng(0)
    f = tmp_path / "d.npz"
    np.savez(
        f,
        x=rng.normal(size=(50, 3, 4)),
        y=rng.integers(0, 3, 50),
        x_test=rng.normal(size=(10, 3, 4)),
        y_test=rng.integers(0, 3, 10),
    )
    s = load("data.name=npz", f"data.path={f}")
    assert s.input_shape == (3, 4) and len(s.x_test) == 10 and s.num_classes == 3
    np.savez(f, x=rng.normal(size=(50, 3)), y=rng.integers(0, 3, 50))  # no test split
    s = load("data.name=npz", f"data.path={f}", "data.test_fraction=0.2")
    assert len(s.x_test) == 10 and len(s.x_train) + len(s.x_val) == 40


def test_csv(tmp_path):
    f = tmp_path / "d.csv"
    rows = ["a,label,b"] + [f"{i},{i % 2},{-i}" for i in range(40)]
    f.write_text("\n".join(rows) + "\n")
    s = load("data.name=csv", f"data.path={f}", "data.normalize=none")
    assert s.input_shape == (2,)
    # features are the non-label columns, in order: b = -a; label = a mod 2
    allx = torch.cat([s.x_train, s.x_val, s.x_test])
    ally = torch.cat([s.y_train, s.y_val, s.y_test])
    assert torch.equal(allx[:, 1], -allx[:, 0])
    assert torch.equal(ally, allx[:, 0].long() % 2)


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx(tmp_path, gz):
    rng = np.random.default_rng(0)
    arrays = {
        "x": rng.integers(0, 256, (30, 28, 28)),
        "y": rng.integers(0, 10, 30),
        "x_test": rng.integers(0, 256, (5, 28, 28)),
        "y_test": rng.integers(0, 10, 5),
    }
    for key, stem in FILES.items():
        raw = idx_bytes(arrays[key])
        if gz:
            (tmp_path / f"{stem}.gz").write_bytes(gzip.compress(raw))
        else:
            (tmp_path / stem).write_bytes(raw)
    s = load("data.name=fashion_mnist", f"data.path={tmp_path}", "data.normalize=none")
    assert s.input_shape == (1, 28, 28)
    np.testing.assert_allclose(s.x_test[:, 0].numpy(), arrays["x_test"] / 255, atol=1e-6)
    assert s.y_test.tolist() == arrays["y_test"].tolist()


def test_cifar10_binary(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 7)
    pixels = rng.integers(0, 256, (7, 3072))
    records = np.concatenate([labels[:, None], pixels], 1).astype(np.uint8)
    for i in range(1, 3):
        (tmp_path / f"data_batch_{i}.bin").write_bytes(records.tobytes())
    (tmp_path / "test_batch.bin").write_bytes(records[:4].tobytes())
    s = load(
        "data.name=cifar10", f"data.path={tmp_path}", "data.normalize=none", "data.val_fraction=0.2"
    )
    assert s.input_shape == (3, 32, 32) and len(s.x_test) == 4
    # record layout: label byte, then red, green, blue 32x32 planes in row-major order
    assert s.y_test.tolist() == labels[:4].tolist()
    assert s.x_test[1, 2, 0, 5].item() == pytest.approx(pixels[1, 2 * 1024 + 5] / 255)
    (tmp_path / "test_batch.bin").write_bytes(records.tobytes()[:-1])
    with pytest.raises(UserError, match="whole number of CIFAR-10 records"):
        load("data.name=cifar10", f"data.path={tmp_path}")


def _npz(tmp_path, **arrays):
    f = tmp_path / "bad.npz"
    np.savez(f, **arrays)
    return ["data.name=npz", f"data.path={f}"]


@pytest.mark.parametrize(
    "arrays, message",
    [
        (dict(x=np.array([[1.0, np.nan]] * 20), y=np.zeros(20)), "NaN/Inf"),
        (dict(x=np.array([[1.0, np.inf]] * 20), y=np.zeros(20)), "NaN/Inf"),
        (dict(x=np.ones((20, 2)), y=np.zeros(19)), "one label per sample"),
        (dict(x=np.ones(20), y=np.zeros(20)), "expected (samples, features...)"),
        (dict(x=np.ones((20, 2)), y=np.full(20, 0.5)), "non-integer labels"),
        (dict(x=np.ones((20, 2)), y=-np.ones(20)), "labels must be 0..C-1"),
        (dict(x=np.ones((20, 2)), y=np.zeros(20)), "single class"),
        (
            dict(
                x=np.ones((20, 2)), y=np.arange(20) % 2, x_test=np.ones((4, 3)), y_test=np.zeros(4)
            ),
            "must match",
        ),
        (
            dict(
                x=np.ones((20, 2)),
                y=np.arange(20) % 2,
                x_test=np.ones((4, 2)),
                y_test=np.full(4, 7),
            ),
            "y_test holds label 7, but the training labels are 0..1",
        ),
        (dict(x=np.ones((20, 2)), y=np.arange(20) % 2, x_test=np.ones((4, 2))), "together"),
        (dict(y=np.zeros(3)), "has no array 'x'"),
        (dict(x=np.array([["a", "b"]] * 20), y=np.arange(20) % 2), "expected real numbers"),
    ],
)
def test_bad_data_is_one_clear_line(tmp_path, arrays, message):
    with pytest.raises(UserError) as e:
        load(*_npz(tmp_path, **arrays))
    assert message in str(e.value) and "\n" not in str(e.value)


def test_bad_files(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load("data.name=npz", f"data.path={tmp_path / 'nope.npz'}")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file")
    with pytest.raises(UserError, match="not a .npz archive") as e:
        load("data.name=npz", f"data.path={junk}")
    assert "allow_pickle" not in str(e.value)  # NumPy's advice would unpickle the file
    single = tmp_path / "single.npy"
    np.save(single, np.zeros((10, 3)))
    with pytest.raises(UserError, match="holds a single array"):
        load("data.name=npz", f"data.path={single}")
    csv = tmp_path / "d.csv"
    csv.write_text("a,label\n1,0\nx,1\n")
    with pytest.raises(UserError, match=r"line 3, column 'a': 'x' is not a number"):
        load("data.name=csv", f"data.path={csv}")
    with pytest.raises(UserError, match="data.label_column 'y' is not a column"):
        load("data.name=csv", f"data.path={csv}", "data.label_column=y")
    with pytest.raises(UserError, match="has no train-images-idx3-ubyte"):
        load("data.name=mnist", f"data.path={tmp_path}")
    (tmp_path / FILES["x"]).write_bytes(b"\x01\x02\x08\x03")
    (tmp_path / FILES["y"]).write_bytes(b"")
    (tmp_path / FILES["x_test"]).write_bytes(b"")
    (tmp_path / FILES["y_test"]).write_bytes(b"")
    with pytest.raises(UserError, match="bad magic number"):
        load("data.name=mnist", f"data.path={tmp_path}")
    with pytest.raises(UserError, match="too few"):
        load("data.name=moons", "data.samples=10", "data.val_fraction=0.01")


@pytest.mark.parametrize(
    "labels, named",
    [([0, 1000], "{0, 1000}"), ([0, 5, 1000000], "{0, 5, 1000000}"), ([1, 2], "{1, 2}")],
)
def test_labels_that_are_not_0_to_c_minus_1_are_named_or_remapped(tmp_path, labels, named):
    """A CSV whose labels are {0, 1000} would train a 1001-way output layer: refused, naming
    the labels; data.remap_labels numbers them 0..C-1 in sorted order, test split too."""
    y = np.array(labels * 10)
    with pytest.raises(UserError, match=re.escape(named)):
        load(*_npz(tmp_path, x=np.arange(len(y) * 2.0).reshape(-1, 2), y=y))
    test = np.array(labels[::-1])
    s = load(
        *_npz(tmp_path, x=np.ones((len(y), 2)), y=y, x_test=np.ones((len(test), 2)), y_test=test),
        "data.remap_labels=true",
    )
    assert s.num_classes == len(labels)
    assert s.y_test.tolist() == list(range(len(labels)))[::-1]
    with pytest.raises(UserError, match="y_test holds label 7, which y does not"):
        load(
            *_npz(tmp_path, x=np.ones((len(y), 2)), y=y, x_test=np.ones((1, 2)), y_test=[7]),
            "data.remap_labels=true",
        )
