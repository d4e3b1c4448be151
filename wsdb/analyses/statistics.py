"""Statistics SQL cannot compute well, registered as DuckDB functions on lists.

Every connection wsdb opens for analyses has them, so analyses stay SQL:
    kendall_tau_b(list(proxy ORDER BY a), list(truth ORDER BY a))
    spearman_rho(list(x ORDER BY a), list(y ORDER BY a))
    sparse_kendall_tau(list(proxy ...), list(truth ...), 0.001)   (Yu et al. 2020's s-KdT)
    student_t_quantile(0.975, n - 1)
Kendall's tau-b uses scipy's O(n log n) algorithm (a SQL self-join is O(n^2): ~1 s for
10,000 architectures, ../notes/stack.md).
"""

from __future__ import annotations

import math

import numpy as np


def _stats():
    """scipy.stats, imported on first use: it takes ~1 s, and most commands that open an
    analysis connection never call these functions."""
    from scipy import stats

    return stats


def _pair(x, y):
    if x is None or y is None or len(x) != len(y) or len(x) < 2:
        return None
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def _tau_b(x: np.ndarray, y: np.ndarray) -> float | None:
    value = _stats().kendalltau(x, y, variant="b").statistic
    return None if math.isnan(value) else float(value)


def kendall_tau_b(x: list[float], y: list[float]) -> float | None:
    pair = _pair(x, y)
    return None if pair is None else _tau_b(*pair)


def spearman_rho(x: list[float], y: list[float]) -> float | None:
    pair = _pair(x, y)
    if pair is None:
        return None
    value = _stats().spearmanr(*pair).statistic
    return None if math.isnan(value) else float(value)


def sparse_ranks(values: np.ndarray, threshold: float) -> np.ndarray:
    """Yu et al.'s sparse ranks: accuracies (fractions) binned on a fixed grid of width
    `threshold` (bin = floor(value / threshold)), ranks dense over the bins, so values in one
    bin share a rank (0.9000 and 0.9009 do at 0.001; 0.9009 and 0.9011 do not)."""
    multiplier = 1.0 / threshold if threshold < 1 else 1.0  # as their code: a threshold >= 1 bins by units
    bins = np.floor(values * multiplier)
    return np.unique(bins, return_inverse=True)[1].astype(float)


def sparse_kendall_tau(proxy: list[float], truth: list[float], threshold: float) -> float | None:
    """Sparse Kendall's tau (s-KdT) of Yu, Ranftl, Salzmann 2020 as their released code computes
    it (`compute_sparse_kendalltau` of the authors' nasws package): the sparse ranks of the ground
    truth in ascending order, against the sparse ranks of the architectures taken in ascending
    order of the proxy (ties in the proxy keep the order given; the analyses give canonical key,
    then repeat),
    by Kendall's tau-b. Without ties in the sparse ranks this is Kendall's tau of proxy and
    truth. NULL for a threshold <= 0 (their code divides by it) or one shared rank."""
    pair = _pair(proxy, truth)
    if pair is None or threshold is None or threshold <= 0:
        return None
    x, y = pair
    ranks = sparse_ranks(y, threshold)
    return _tau_b(np.sort(ranks), ranks[np.argsort(x, kind="stable")])


def student_t_quantile(probability: float, degrees_of_freedom: float) -> float | None:
    if probability is None or degrees_of_freedom is None or degrees_of_freedom < 1:
        return None
    return float(_stats().t.ppf(probability, degrees_of_freedom))


def register(con) -> None:
    # null_handling="special": the functions take NULLs and return NULL where undefined.
    for name, function, parameters in (
        ("kendall_tau_b", kendall_tau_b, ["DOUBLE[]", "DOUBLE[]"]),
        ("spearman_rho", spearman_rho, ["DOUBLE[]", "DOUBLE[]"]),
        ("sparse_kendall_tau", sparse_kendall_tau, ["DOUBLE[]", "DOUBLE[]", "DOUBLE"]),
        ("student_t_quantile", student_t_quantile, ["DOUBLE", "DOUBLE"]),
    ):
        con.create_function(name, function, parameters, "DOUBLE", null_handling="special")
