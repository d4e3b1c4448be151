"""The statistics registered in DuckDB, against scipy, on random and heavily tied data."""

import duckdb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import kendalltau

from wsdb.analyses import statistics

values = st.lists(st.sampled_from([0.1, 0.2, 0.2, 0.3, 0.5]) | st.floats(0, 1), min_size=2, max_size=60)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_kendall_tau_b_equals_scipy(data):
    x = data.draw(values)
    y = data.draw(st.lists(st.sampled_from([0.1, 0.2, 0.3]) | st.floats(0, 1), min_size=len(x), max_size=len(x)))
    expected = kendalltau(x, y).statistic
    value = statistics.kendall_tau_b(x, y)
    if np.isnan(expected):
        assert value is None
    else:
        assert value == pytest.approx(expected, abs=1e-12)


def _their_sparse_kendall(proxy, truth, threshold):
    """Yu, Ranftl, Salzmann's s-KdT transcribed step by step from their released code (nasws,
    cnn/utils.py: sort_hash_perfs, sparse_rank_by_simple_bin, compute_sparse_rank_metric): ids
    sorted by proxy and by truth, the sorted truths binned by `p * (1 / threshold) // 1` with the
    rank raised at each new bin, then scipy's kendalltau(binned ranks in truth order, the ranks
    of the ids in proxy order). Sorting is stable here (theirs: numpy's default quicksort)."""
    ids = list(range(len(proxy)))
    by_proxy = [ids[i] for i in np.argsort(proxy, kind="stable")]
    by_truth = [ids[i] for i in np.argsort(truth, kind="stable")]
    multiplier = 1 / threshold if threshold < 1.0 else 1.0
    rank_map, new_ranks, current_perf, current_rank = {}, [], 0.0, -1
    for i in by_truth:
        p = truth[i]
        if p * multiplier // 1 > current_perf * multiplier // 1:
            current_rank += 1
        rank_map[i] = current_rank
        new_ranks.append(current_rank)
        current_perf = p
    return kendalltau(new_ranks, [rank_map[i] for i in by_proxy]).statistic


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_sparse_kendall_equals_yu_et_als_released_computation(data):
    proxy = data.draw(st.lists(st.sampled_from([0.1, 0.2, 0.3]) | st.floats(0, 1), min_size=2, max_size=60))
    truth = data.draw(st.lists(st.sampled_from([0.9, 0.9004, 0.9011, 0.91]) | st.floats(0.5, 1),
                               min_size=len(proxy), max_size=len(proxy)))
    threshold = data.draw(st.sampled_from([1e-3, 1e-2, 1e-4]))
    expected = _their_sparse_kendall(proxy, truth, threshold)
    value = statistics.sparse_kendall_tau(proxy, truth, threshold)
    if np.isnan(expected):
        assert value is None
    else:
        assert value == pytest.approx(expected, abs=1e-12)


def test_sparse_ranks_bin_on_a_fixed_grid():
    truth = np.array([0.9000, 0.9005, 0.9009, 0.9011, 0.9500, 0.9504])
    assert statistics.sparse_ranks(truth, 0.001).tolist() == [0, 0, 0, 1, 2, 2]  # 0.9009 | 0.9011: another bin
    proxy = [1, 2, 3, 4, 5, 6]  # proxy order = truth order: their s-KdT is 1
    assert statistics.sparse_kendall_tau(proxy, list(truth), 0.001) == pytest.approx(1.0)
    reversed_order = statistics.sparse_kendall_tau(proxy[::-1], list(truth), 0.001)
    assert reversed_order == pytest.approx(_their_sparse_kendall(proxy[::-1], list(truth), 0.001)) and reversed_order < -0.8
    assert statistics.sparse_kendall_tau(proxy, list(truth), 1.0) is None  # one shared rank: undefined
    assert statistics.sparse_kendall_tau(proxy, list(truth), 0.0) is None  # their code divides by the threshold
    # without shared ranks it is Kendall's tau of proxy and truth
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=50), rng.uniform(0.5, 1, size=50)
    assert statistics.sparse_kendall_tau(list(x), list(y), 1e-9) == pytest.approx(kendalltau(x, y).statistic)


def test_functions_in_duckdb():
    con = duckdb.connect()
    statistics.register(con)
    (row,) = con.execute(
        "SELECT kendall_tau_b([1, 2, 3, 4]::DOUBLE[], [1, 3, 2, 4]::DOUBLE[]), "
        "sparse_kendall_tau([1, 2, 3]::DOUBLE[], [0.5, 0.5, 0.5]::DOUBLE[], 0.001), "
        "student_t_quantile(0.975, 4)").fetchall()
    con.close()
    assert row[0] == pytest.approx(kendalltau([1, 2, 3, 4], [1, 3, 2, 4]).statistic)
    assert row[1] is None and row[2] == pytest.approx(2.7764451051977987)
