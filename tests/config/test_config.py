import tomllib

import pytest

from trainlab.config import SCHEMA, defaults, documented_defaults, parse_override, resolve
from trainlab.errors import UserError


def test_layers_apply_in_order(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('seed = 3\n[optimizer]\nname = "sgd"\nlr = 0.5\n')
    c = resolve(
        f, ["optimizer.lr=1e-3", "model.name=mlp", "model.hidden=[8, 4]", "train.shuffle=false"]
    )
    assert c.seed == 3 and c.optimizer.name == "sgd"
    assert c.optimizer.lr == 0.001
    assert c.model.hidden == (8, 4) and c.train.shuffle is False
    assert c.data.name == "mnist1d"  # untouched default


def test_values_are_read_as_toml_and_bare_words_as_strings():
    assert parse_override("optimizer.name=sgd") == ("optimizer.name", "sgd")
    assert parse_override("optimizer.lr=1e-3") == ("optimizer.lr", 0.001)
    assert parse_override('train.batch_size="full"') == ("train.batch_size", "full")
    assert parse_override("train.batch_size=full") == ("train.batch_size", "full")
    assert resolve(None, ["optimizer.lr=1"])["optimizer"]["lr"] == 1.0  # int -> float


def test_documented_defaults_are_valid_toml_equal_to_the_defaults():
    text = documented_defaults()
    assert tomllib.loads(text) == defaults()
    for name, key in SCHEMA.items():  # every key has a comment line
        assert f"# {key.meaning}" in text, name


@pytest.mark.parametrize(
    "override, words",
    [
        ("optimizer.lrr=0.1", ["unknown config key 'optimizer.lrr'", "did you mean optimizer.lr"]),
        ("optimizer.lr=-0.1", ["optimizer.lr = -0.1", "> 0"]),
        ("optimizer.lr=0", ["optimizer.lr = 0", "> 0"]),
        ("optimizer.lr=nan", ["optimizer.lr", "finite"]),
        ("optimizer.momentum=1.0", ["optimizer.momentum = 1.0", "[0, 1)"]),
        ("optimizer.name=adamax", ['optimizer.name = "adamax"', "sgd", "adamw"]),
        ("model.name=resnet", ["model.name", "cnn1d", "lstm"]),
        ("data.name=imagenet", ["data.name", "mnist1d", "cifar10"]),
        ("train.epochs=ten", ["train.epochs", "an integer"]),
        ("train.epochs=2.5", ["train.epochs", "an integer"]),
        ("train.shuffle=1", ["train.shuffle", "true/false"]),
        ("train.batch_size=0", ["train.batch_size", "full"]),
        ("train.batch_size=half", ["train.batch_size", "full"]),
        ("model.hidden=[8,-1]", ["model.hidden", "positive integers"]),
        ("model.kernel_size=4", ["model.kernel_size", "odd"]),
        ("optimizer.nesterov=true", ["nesterov", "momentum > 0"]),
        ("data.name=npz", ["data.path"]),
        ("lr=0.1", ["unknown config key 'lr'"]),
        ("optimizer=sgd", ["unknown config key 'optimizer'"]),
        ("novalue", ["key=value"]),
    ],
)
def test_bad_values_name_the_key_and_what_is_allowed(override, words):
    with pytest.raises(UserError) as e:
        resolve(None, [override])
    msg = str(e.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg


def test_bad_config_files(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        resolve(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("seed = = 1\n")
    with pytest.raises(UserError, match="not valid TOML"):
        resolve(bad)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[optimiser]\nlr = 1\n")
    with pytest.raises(UserError, match="unknown config key 'optimiser'"):
        resolve(unknown)
