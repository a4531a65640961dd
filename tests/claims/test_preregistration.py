"""Every claim is pre-registered: the deck's words verbatim, what is measured, kind, metric,
direction, the smallest effect that matters with its reason, and a seed count from a power
calculation that matches the published tables of the one-sample t-test."""

import pytest

from trainlab.claims import all_claims
from trainlab.claims.claim import (
    DECKS,
    MIN_EMPIRICAL_SEEDS,
    deck_text,
    preregistration_problems,
    quote_found,
    underpowered,
)
from trainlab.claims.power import power, seeds_needed


@pytest.mark.parametrize(
    ("d", "n"),
    # one-sample t-test, two-sided alpha 0.05 (one-sided 0.025), power 0.8: Cohen 1988, table
    # 2.4.1, as G*Power computes it (d = 0.5 -> 34, 0.8 -> 15, 1.0 -> 10)
    [(0.5, 34), (0.8, 15), (1.0, 10)],
)
def test_seeds_needed_matches_the_power_tables(d, n):
    assert seeds_needed(1.0, d) == n
    assert power(n - 1, 1.0, d) < 0.8 <= power(n, 1.0, d)


def test_a_quote_is_found_verbatim_in_pieces_and_order():
    deck = "Momentum   methods\nsmooth the path. They also speed up convergence."
    flat = " ".join(deck.split())
    assert quote_found("Momentum methods smooth the path.", flat)
    assert quote_found("Momentum methods ... speed up convergence", flat)
    assert not quote_found("speed up convergence ... Momentum methods", flat)
    assert not quote_found("Momentum methods always converge", flat)


@pytest.mark.skipif(deck_text("000_c258a766373167ad.txt") is None, reason=f"no decks in {DECKS}")
def test_every_claim_is_preregistered():
    problems = {c.id: preregistration_problems(c) for c in all_claims()}
    assert {k: v for k, v in problems.items() if v} == {}


def test_every_empirical_claim_runs_its_power_calculations_seeds():
    for c in all_claims():
        if c.kind == "empirical":
            assert c.seeds >= MIN_EMPIRICAL_SEEDS, c.id
            if c.pilot_sd is not None and c.delta and not underpowered(c):
                assert c.seeds >= seeds_needed(c.pilot_sd, c.delta), c.id
