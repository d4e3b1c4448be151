"""The statistics registered in DuckDB, against scipy, on random and heavily tied data."""

import duckdb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import kendalltau

from wsdb import statistics

values = st.lists(st.sampled_from([0.1, 0.2, 0.2, 0.3, 0.5]) | st.floats(0, 1), min_size=2, max_size=60)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_kendall_tau_b_and_sparse_kendall_with_zero_threshold_equal_scipy(data):
    x = data.draw(values)
    y = data.draw(st.lists(st.sampled_from([0.1, 0.2, 0.3]) | st.floats(0, 1), min_size=len(x), max_size=len(x)))
    expected = kendalltau(x, y).statistic
    for value in (statistics.kendall_tau_b(x, y), statistics.sparse_kendall_tau(x, y, 0.0)):
        if np.isnan(expected):
            assert value is None
        else:
            assert value == pytest.approx(expected, abs=1e-12)


def test_shared_ranks_follow_the_threshold_from_the_first_of_each_run():
    truth = np.array([0.9000, 0.9005, 0.9009, 0.9011, 0.9500, 0.9504])
    assert statistics.shared_ranks(truth, 0.001).tolist() == [1, 1, 1, 2, 3, 3]
    proxy = [1, 2, 3, 4, 5, 6]
    assert statistics.sparse_kendall_tau(proxy, list(truth), 0.001) == pytest.approx(
        kendalltau(proxy, [1, 1, 1, 2, 3, 3]).statistic)
    assert statistics.sparse_kendall_tau(proxy, list(truth), 1.0) is None  # one shared rank: undefined


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
