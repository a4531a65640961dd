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


def test_staleness_slope_of_workers_served_in_turn_is_one_exactly():
    """W equal workers served in turn: each gradient is W - 1 updates stale (hand value), the
    same in every seed, so the slope is exactly 1 and the claim holds without sampling error."""
    from trainlab.claims.catalogue_distributed import analyze_staleness

    results = [{"1": 0.0, "2": 1.0, "3": 2.0}, {"1": 0.0, "2": 1.0, "3": 2.0}]
    v = analyze_staleness(results, {"delta": 0.25})
    assert v.kind == "holds" and v.exact and v.estimate == 1.0


def test_sync_batch_check_fails_beyond_rounding():
    from trainlab.claims.catalogue_distributed import analyze_sync_batch

    base = {"max_weight": 1.0, "updates": 80, "test_loss": {"sync": 0.3, "one": 0.3}}
    assert analyze_sync_batch([{**base, "max_diff": 6e-8}], {"tol": 1e-5}).kind == "holds"
    assert analyze_sync_batch([{**base, "max_diff": 1e-3}], {"tol": 1e-5}).kind == "does not hold"
