"""The distributed claims' clean-up ends the processes their run started and no other (a grid
worker running beside them is a child of the same process)."""

import multiprocessing
import time

import pytest

from trainlab.claims.catalogue_distributed import _end_children

pytestmark = pytest.mark.multiprocess  # starts processes to end them


def _sleep() -> None:
    time.sleep(60)


def test_end_children_spares_the_processes_that_were_there_before():
    ctx = multiprocessing.get_context("spawn")
    before = ctx.Process(target=_sleep, daemon=True)
    before.start()
    try:
        keep = set(multiprocessing.active_children())
        started = ctx.Process(target=_sleep, daemon=True)
        started.start()
        _end_children(keep, wait_s=0.2)
        assert not started.is_alive() and before.is_alive()
    finally:
        before.kill()
        before.join(5)
