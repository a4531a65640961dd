"""``trainlab claims``: what the lectures claim, measured over seeds, with a statistic and an
honest verdict (issue 9). :mod:`.claim` defines a claim, :mod:`.verdicts` the statistics,
``catalogue_*`` the claims per lecture area, :mod:`.runner` runs and caches them."""

from .claim import CLAIMS, Claim, all_claims, register

__all__ = ["CLAIMS", "Claim", "all_claims", "register"]
