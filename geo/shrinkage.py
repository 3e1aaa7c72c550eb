"""Empirical Bayes shrinkage of small-sample rates (beta-binomial).

A unit's observed rate k / n (say 2 resolved of 2 due) is as exact as its n allows: with
n = 2 a rate of 100% is also consistent with a true rate of 60%. Ranking such rates as if
exact puts the smallest units at the top and the bottom by chance, and moves them at random
from month to month. Shrinking each rate toward its parent unit's rate, by as much as its
sample is small, keeps what the data say and drops what they cannot.

Formula
-------
Each unit's true rate is taken as drawn from a Beta distribution centred on its parent's
pooled rate ``p`` (Σk ÷ Σn over the parent's units) with strength ``m`` (a prior worth
``m`` requests). The posterior mean is::

    shrunk = (k + m · p) / (n + m)  =  Z · k/n + (1 − Z) · p,   Z = n / (n + m)

``Z`` is the credibility weight: a unit with n = m due requests keeps half its own rate.

``m`` is estimated from the data (empirical Bayes, method of moments) across the peer units
of one level: with ``N = Σn``, ``I`` units with n > 0, pooled ``p̂ = Σk / N`` and
``S = Σ n·(k/n − p̂)²``, the between-unit variance of true rates is::

    τ² = (S − (I − 1) · p̂(1 − p̂)) / (N − Σn² / N − (I − 1))

and ``m = p̂(1 − p̂) / τ² − 1`` (a Beta prior's variance is p(1 − p) / (m + 1)). When the
rates vary no more than chance alone would make them (τ² ≤ 0), ``m`` is infinite: every
unit gets its parent's rate. Spread between parents counts towards τ², so ``m`` is, if
anything, small (the shrinkage conservative).

Counts per resident (requests per 1,000 residents) are shrunk the same way with a
Gamma-Poisson prior: ``k`` requests over an exposure ``n`` (thousands of residents), and
(:func:`poisson_strength`) ``τ² = (S − (I − 1) · p̂) / (N − Σn² / N)`` with
``m = p̂ / τ²`` in thousands of residents.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["credibility", "poisson_strength", "prior_strength", "shrink"]


def prior_strength(successes: npt.ArrayLike, trials: npt.ArrayLike) -> float:
    """Estimate the Beta prior's strength ``m`` across units (method of moments).

    Parameters
    ----------
    successes, trials : array-like
        ``k`` and ``n`` per unit; units with ``n`` = 0 (or missing) are left out.

    Returns
    -------
    float
        ``m`` in requests (see the module docstring); ``inf`` when the rates spread no
        more than chance would make them, or fewer than two units have a sample.

    """
    pooled = _pooled(successes, trials)
    if pooled is None:
        return math.inf
    k, n, total, p = pooled
    units = len(n)
    spread = p * (1.0 - p)
    if spread <= 0.0:
        return math.inf
    s = float((n * (k / n - p) ** 2).sum())
    denominator = total - float((n ** 2).sum()) / total - (units - 1)
    if denominator <= 0.0:
        return math.inf
    tau2 = (s - (units - 1) * spread) / denominator
    if tau2 <= 0.0:
        return math.inf
    return max(spread / tau2 - 1.0, 0.0)


def poisson_strength(counts: npt.ArrayLike, exposure: npt.ArrayLike) -> float:
    """Estimate a Gamma prior's strength ``m`` for counts per exposure (method of moments).

    Parameters
    ----------
    counts, exposure : array-like
        ``k`` events and ``n`` exposure (e.g. thousands of residents) per unit; units with
        no exposure are left out.

    Returns
    -------
    float
        ``m`` in exposure units; ``inf`` when the rates spread no more than Poisson
        chance would make them, or fewer than two units have an exposure.

    """
    pooled = _pooled(counts, exposure)
    if pooled is None:
        return math.inf
    k, n, total, p = pooled
    units = len(n)
    if p <= 0.0:
        return math.inf
    s = float((n * (k / n - p) ** 2).sum())
    denominator = total - float((n ** 2).sum()) / total
    tau2 = (s - (units - 1) * p) / denominator if denominator > 0 else 0.0
    if tau2 <= 0.0:
        return math.inf
    return p / tau2


def _pooled(events: npt.ArrayLike, exposure: npt.ArrayLike,
            ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], float, float] | None:
    """Return the units with a positive exposure, the total exposure and the pooled rate.

    None when fewer than two units are left: no spread between units to estimate.
    """
    k = np.asarray(events, dtype=float)
    n = np.asarray(exposure, dtype=float)
    keep = np.isfinite(k) & np.isfinite(n) & (n > 0)
    k, n = k[keep], n[keep]
    if len(n) < 2:
        return None
    total = float(n.sum())
    return k, n, total, float(k.sum()) / total


def credibility(trials: npt.ArrayLike, strength: float) -> npt.NDArray[np.float64]:
    """Return ``Z = n / (n + m)``, the weight of each unit's own rate (0 with m infinite)."""
    n = np.asarray(trials, dtype=float)
    if math.isinf(strength):
        return np.zeros_like(n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n + strength > 0, n / (n + strength), 0.0)


def shrink(successes: npt.ArrayLike, trials: npt.ArrayLike, prior: npt.ArrayLike, *,
           strength: float) -> npt.NDArray[np.float64]:
    """Shrink ``k / n`` toward ``prior``: ``(k + m·p) / (n + m)``.

    Parameters
    ----------
    successes, trials : array-like
        ``k`` and ``n`` per unit.
    prior : array-like
        The rate each unit is shrunk toward (its parent's pooled rate), in [0, 1].
    strength : float
        ``m`` (:func:`prior_strength`), ≥ 0; ``inf`` gives the prior.

    Returns
    -------
    numpy.ndarray
        The shrunk rates; NaN where ``n`` is 0 or missing (no sample: nothing to shrink,
        the rate stays undefined as the raw one is).

    """
    if not strength >= 0:
        raise ValueError(f"strength must be non-negative, not {strength}")
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    p = np.asarray(prior, dtype=float)
    z = credibility(n, strength)
    with np.errstate(invalid="ignore", divide="ignore"):  # n = 0: masked below
        raw = k / n
        out = np.where(z > 0, z * raw, 0.0) + (1.0 - z) * p
    return np.where(np.isfinite(n) & (n > 0), out, np.nan)
