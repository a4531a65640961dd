import os

import pytest

import trainlab


@pytest.fixture(autouse=True, scope="session")
def _cache(tmp_path_factory):
    """Keep the MNIST-1D cache of the tests out of the user's home."""
    os.environ["TRAINLAB_CACHE"] = str(tmp_path_factory.mktemp("cache"))


# A run that takes well under a second: a small MLP on the moons toy set.
FAST = [
    "data.name=moons",
    "data.samples=400",
    "model.name=mlp",
    "model.hidden=[16]",
    "model.norm=none",
    "optimizer.name=sgd",
    "optimizer.lr=0.1",
    "optimizer.momentum=0.9",
    "optimizer.weight_decay=0",
    "schedule.name=constant",
    "train.epochs=4",
    "train.batch_size=32",
    "train.checkpoint_seconds=0",
]


@pytest.fixture
def fast_run(tmp_path):
    """Train FAST (plus extra overrides) into a fresh folder; returns (summary, run folder)."""
    counter = iter(range(1000))

    def run(*extra, out=None):
        out = out or tmp_path / f"run{next(counter)}"
        # FAST as presets: the keys the chosen optimizer or model does not read are left out
        config = trainlab.resolve_config(None, list(extra), presets=FAST)
        return trainlab.train(config, out=out, progress="quiet"), out

    return run


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "cpu_only(reason): a test whose runs must be on the CPU; skipped, with its "
        "reason, where CUDA is available (device = auto would train on the GPU)",
    )
    # The fast tier (`make test-fast`) leaves out the two below: pytest -m "not slow and not
    # multiprocess". A test that starts processes is marked multiprocess whatever its time.
    config.addinivalue_line(
        "markers",
        "slow: takes more than about 2 s on one core (a real training run, a grid, "
        "a property test over every optimizer)",
    )
    config.addinivalue_line(
        "markers",
        "multiprocess: starts processes (the distributed modes, grids and searches "
        "with jobs > 1, the CLI in a subprocess, torchrun)",
    )


def pytest_collection_modifyitems(config, items):
    """On a CUDA machine the suite runs with device = auto on the GPU; tests marked cpu_only say
    why they cannot, and are skipped there."""
    import torch

    if not torch.cuda.is_available():
        return
    for item in items:
        marker = item.get_closest_marker("cpu_only")
        if marker is not None:
            item.add_marker(pytest.mark.skip(reason=f"CPU only: {marker.args[0]}"))
