"""Analyses as SQL files: header parsing, bound parameters, statistics checked against scipy,
ad-hoc SQL (read-only by default) and export."""

import json
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import kendalltau, pearsonr, spearmanr

from conftest import run_cli
from wsdb.analyses import runner as analysis
from wsdb.warehouse import db as database
from wsdb.analyses import duck
from wsdb.base.errors import WsdbError
from wsdb.ingest.common import ground_truth_rows
from wsdb.warehouse.bulk import insert_new_rows
from wsdb.warehouse.populate import populate
from wsdb.warehouse.schema import Checkpoint, GroundTruthResult, ProxyScore, Supernet, utcnow


def test_every_shipped_analysis_documents_itself():
    shipped = analysis.shipped()
    assert {"correlation", "top_k"} <= set(shipped)
    for item in shipped.values():
        assert item.summary and item.columns
        for name in item.parameters:
            assert f"${name}" in item.sql, (item.name, name)


def test_header_parsing_and_binding():
    text = "-- What it does.\n--\n-- parameters:\n--   k = 10   how many\n--   name = 'a''b'\n--   who\n-- columns:\n--   x  the x\nSELECT $k, $name, $who"
    parsed = analysis.parse(text, "t", "t.sql")
    assert parsed.summary == "What it does."
    assert parsed.parameters["k"].default == 10 and parsed.parameters["name"].default == "a'b"
    assert parsed.parameters["who"].required and parsed.columns == {"x": "the x"}
    assert parsed.bind({"k": "3", "who": "me"}) == {"k": 3, "name": "a'b", "who": "me"}
    with pytest.raises(WsdbError, match="needs --param who"):
        parsed.bind({})
    with pytest.raises(WsdbError, match="takes an integer"):
        parsed.bind({"k": "x", "who": "me"})
    with pytest.raises(WsdbError, match="starts with a comment"):
        analysis.parse("SELECT 1", "t", "t.sql")


def _synthetic_warehouse(url, cases):
    """ws64 ground truth from a small set of values (heavy ties) and one super-net per case."""
    database.init_database(url)
    rng = np.random.default_rng(0)
    truth = rng.choice([0.80, 0.81, 0.81, 0.82, 0.85, 0.9], size=64)
    now = utcnow()
    with database.warehouse(url) as engine, engine.begin() as connection:
        populate(connection, "ws64")
        ids = [i for (i,) in connection.execute(sa.text(
            "SELECT id FROM architectures WHERE search_space = 'ws64' ORDER BY canonical_key"))]
        insert_new_rows(connection, GroundTruthResult.__table__, ground_truth_rows(
            [{"architecture_id": a, "benchmark_arch_id": str(a), "validation_accuracy": float(t)} for a, t in zip(ids, truth)],
            benchmark="synthetic", dataset="cifar10", epoch_budget=200, repeat=0, epoch=200, evaluation_point="final"))
        for case, proxy in enumerate(cases):
            name = f"case{case}"
            insert_new_rows(connection, Supernet.__table__, {
                "id": [name], "search_space": ["ws64"], "name": [name], "config_json": ["{}"],
                "status": ["imported"], "origin": ["imported"], "created_at": [now]})
            insert_new_rows(connection, Checkpoint.__table__, {
                "id": [name], "supernet_id": [name], "label": ["final"], "created_at": [now]})
            insert_new_rows(connection, ProxyScore.__table__, {
                "checkpoint_id": [name] * 64, "architecture_id": ids, "protocol_id": ["no-ft"] * 64,
                "metric": ["validation_accuracy"] * 64, "evaluation_repeat": [0] * 64,
                "value": [float(v) for v in proxy], "evaluated_at": [now] * 64})
    return truth


def test_correlation_matches_scipy_on_random_and_heavily_tied_data(duckdb_url):
    rng = np.random.default_rng(1)
    cases = [rng.normal(size=64), rng.integers(0, 3, size=64), rng.integers(0, 10, size=64), np.r_[np.zeros(63), 1.0]]
    truth = _synthetic_warehouse(duckdb_url, cases)
    con = duck.connect(duckdb_url)
    params = analysis.load("correlation").bind({"dataset": "cifar10", "epoch_budget": "200", "benchmark": "synthetic"})
    rows = {r["supernet_name"]: r for r in duck.run(con, analysis.load("correlation").sql, params).to_pylist()}
    con.close()
    for case, proxy in enumerate(cases):
        row = rows[f"case{case}"]
        assert row["n"] == 64 and not row["proxy_is_constant"]
        assert row["spearman"] == pytest.approx(spearmanr(proxy, truth).statistic, abs=1e-12)
        assert row["pearson"] == pytest.approx(pearsonr(proxy, truth).statistic, abs=1e-12)
        assert row["kendall"] == pytest.approx(kendalltau(proxy, truth).statistic, abs=1e-12)


def test_a_constant_proxy_is_flagged_not_correlated(duckdb_url):
    _synthetic_warehouse(duckdb_url, [np.full(64, 0.1)])
    con = duck.connect(duckdb_url)
    (row,) = duck.run(con, analysis.load("correlation").sql,
                      analysis.load("correlation").bind({"epoch_budget": "200", "benchmark": "synthetic"})).to_pylist()
    con.close()
    assert row["proxy_is_constant"] and row["spearman"] is None


def _published_supernet(tmp_path, url, shared_data, folder):
    """A warehouse holding one published to-share super-net (<method>/<space>/<seed>)."""
    from wsdb.ingest.to_share import ingest_to_share

    root = tmp_path / "r" / folder
    root.mkdir(parents=True)
    shutil.copy(shared_data / "nb101/to_share_or_not_to_share" / folder / "eval_results.pkl", root)
    database.init_database(url)
    with database.warehouse(url) as engine:
        ingest_to_share(engine, tmp_path / "r", show_progress=False)


def test_top_k_matches_a_brute_force_count(tmp_path, duckdb_url, shared_data):
    _published_supernet(tmp_path, duckdb_url, shared_data, "baseline_ft_bn/2/0")
    con = duck.connect(duckdb_url)
    (row,) = duck.run(con, analysis.load("top_k").sql, analysis.load("top_k").bind({"k": "10"})).to_pylist()
    pairs = con.execute(
        "SELECT p.architecture_id, AVG(p.value), ANY_VALUE(t.validation_accuracy) FROM proxy_scores p "
        "JOIN ground_truth_mean t ON t.architecture_id = p.architecture_id AND t.evaluation_point = 'final' "
        "GROUP BY 1").fetchall()
    con.close()
    # the warehouse holds only the sample's architectures, all in A2: ranks are within them
    top = sorted(pairs, key=lambda r: (-r[1], r[0]))[:10]
    best = max(t for _, _, t in top)
    truths = sorted((t for _, _, t in pairs), reverse=True)
    assert row["k"] == 10 and row["best_truth"] == pytest.approx(best)
    assert row["rank_in_subspace"] == truths.index(best) + 1
    assert row["architectures_ranked"] == len(pairs)
    assert row["regret"] == pytest.approx(truths[0] - best)


def test_cli_query_sql_and_export(tmp_path, duckdb_url):
    _synthetic_warehouse(duckdb_url, [np.arange(64.0)])
    db = duckdb_url.removeprefix("duckdb:///")
    listing = run_cli("query", "--list", "--json")
    assert {a["analysis"] for a in json.loads(listing.stdout)} >= {"correlation", "top_k"}
    result = run_cli("query", "correlation", "--db", db, "--param", "epoch_budget=200", "--param", "benchmark=synthetic", "--json")
    assert json.loads(result.stdout)[0]["n"] == 64
    out = tmp_path / "rho.csv"
    assert run_cli("query", "correlation", "--db", db, "--param", "epoch_budget=200", "--param", "benchmark=synthetic",
                   "--csv", str(out)).returncode == 0
    assert out.read_text().splitlines()[0].startswith("supernet_id,")
    bad = run_cli("query", "correlation", "--db", db, "--param", "bogus=1")
    assert bad.returncode == 1 and "has no parameter bogus" in bad.stderr
    refused = run_cli("sql", "DELETE FROM jobs", "--db", db)
    assert refused.returncode == 1 and "read-only" in refused.stderr
    assert run_cli("sql", "DELETE FROM jobs", "--db", db, "--write").returncode == 0
    counted = run_cli("sql", "SELECT COUNT(*) AS n FROM architectures", "--db", db, "--json")
    assert json.loads(counted.stdout) == [{"n": 64}]
    parquet = tmp_path / "gt.parquet"
    assert run_cli("export", "ground_truth_mean", "--db", db, "--parquet", str(parquet)).returncode == 0
    assert pq.read_table(parquet).num_rows == 64
    missing = run_cli("export", "nope", "--db", db, "--csv", str(tmp_path / "x.csv"))
    assert missing.returncode == 1 and "no table or view 'nope'" in missing.stderr
    own = tmp_path / "mine.sql"
    own.write_text("-- Architectures per space.\nSELECT search_space, COUNT(*) AS n FROM architectures GROUP BY 1")
    assert json.loads(run_cli("query", str(own), "--db", db, "--json").stdout) == [{"search_space": "ws64", "n": 64}]


def _run(url, name, **params):
    con = duck.connect(url)
    try:
        item = analysis.load(name)
        return analysis.execute(con, item, item.bind({k: str(v) for k, v in params.items()})).to_pylist()
    finally:
        con.close()


def test_stability_over_checkpoints_and_between_supernets(duckdb_url):
    """Two checkpoints per super-net; two super-nets of one configuration (S-Tau)."""
    rng = np.random.default_rng(3)
    proxies = [rng.normal(size=64) for _ in range(2)]
    truth = _synthetic_warehouse(duckdb_url, proxies)
    later = [p + rng.normal(scale=0.5, size=64) for p in proxies]
    now = utcnow()
    with database.warehouse(duckdb_url) as engine, engine.begin() as connection:
        ids = [i for (i,) in connection.execute(sa.text(
            "SELECT id FROM architectures WHERE search_space = 'ws64' ORDER BY canonical_key"))]
        for case, proxy in enumerate(later):
            insert_new_rows(connection, Checkpoint.__table__, {
                "id": [f"case{case}-late"], "supernet_id": [f"case{case}"], "label": ["step-2"], "step": [2],
                "created_at": [now]})
            connection.execute(sa.text("UPDATE checkpoints SET step = 1 WHERE id = :c"), {"c": f"case{case}"})
            insert_new_rows(connection, ProxyScore.__table__, {
                "checkpoint_id": [f"case{case}-late"] * 64, "architecture_id": ids, "protocol_id": ["no-ft"] * 64,
                "metric": ["validation_accuracy"] * 64, "evaluation_repeat": [0] * 64,
                "value": [float(v) for v in proxy], "evaluated_at": [now] * 64})
    rows = {r["supernet_name"]: r for r in _run(duckdb_url, "stability_checkpoints", epoch_budget=200,
                                                benchmark="synthetic", last_k=2)}
    for case in range(2):
        taus = [kendalltau(p, truth).statistic for p in (proxies[case], later[case])]
        assert rows[f"case{case}"]["checkpoints"] == 2
        assert rows[f"case{case}"]["gt_tau_mean"] == pytest.approx(np.mean(taus))
        assert rows[f"case{case}"]["gt_tau_std"] == pytest.approx(np.std(taus))
        # S-Tau within the run ("Different epochs"): the tau between its checkpoints' rankings
        within = kendalltau(proxies[case], later[case]).statistic
        assert (rows[f"case{case}"]["s_tau"], rows[f"case{case}"]["s_tau_min"]) == (pytest.approx(within),) * 2
    (s_tau,) = _run(duckdb_url, "stability_supernets")
    assert s_tau["supernets"] == 2 and s_tau["pairs"] == 1 and s_tau["min_common_architectures"] == 64
    assert s_tau["varied_seeds"] == "none"  # imported rows without seeds: nothing known to differ
    assert s_tau["s_tau"] == pytest.approx(kendalltau(later[0], later[1]).statistic)  # newest checkpoints


def test_one_rule_for_the_newest_scored_checkpoint_and_a_minimum_of_common_architectures(duckdb_url):
    """A run scored step by step whose last epoch checkpoint holds no scores keeps its newest
    scored checkpoint (the analyses came back empty); a pair of super-nets sharing 3
    architectures is left out of S-Tau unless asked for, and counted."""
    rng = np.random.default_rng(4)
    proxies = [rng.normal(size=64) for _ in range(3)]
    _synthetic_warehouse(duckdb_url, proxies)
    now = utcnow()
    with database.warehouse(duckdb_url) as engine, engine.begin() as connection:
        for case in range(3):  # a file checkpoint at the end of training, never scored
            insert_new_rows(connection, Checkpoint.__table__, {
                "id": [f"case{case}-epoch"], "supernet_id": [f"case{case}"], "label": ["epoch-5"], "epoch": [5],
                "step": [500], "uri": [f"file:///nowhere/{case}.pt"], "created_at": [now]})
        # case2 keeps the scores of only 3 architectures
        connection.execute(sa.text("DELETE FROM proxy_scores WHERE checkpoint_id = 'case2' AND architecture_id NOT IN "
                                   "(SELECT id FROM architectures WHERE search_space = 'ws64' ORDER BY canonical_key "
                                   "LIMIT 3)"))
    newest = _run(duckdb_url, "newest_scores")
    assert {(r["supernet_id"], r["checkpoint_label"]) for r in newest} == {(f"case{c}", "final") for c in range(3)}
    assert len(newest) == 64 + 64 + 3
    (s_tau,) = _run(duckdb_url, "stability_supernets")
    assert (s_tau["pairs"], s_tau["pairs_left_out"], s_tau["min_common_architectures"]) == (1, 2, 64)
    assert s_tau["s_tau"] == pytest.approx(kendalltau(proxies[0], proxies[1]).statistic)
    (everything,) = _run(duckdb_url, "stability_supernets", min_common=3)
    first3 = slice(0, 3)
    taus = [kendalltau(proxies[0], proxies[1]).statistic, kendalltau(proxies[0][first3], proxies[2][first3]).statistic,
            kendalltau(proxies[1][first3], proxies[2][first3]).statistic]
    assert everything["pairs"] == 3 and everything["s_tau"] == pytest.approx(np.mean(taus))
    assert (everything["s_tau_min"], everything["s_tau_max"]) == (pytest.approx(min(taus)), pytest.approx(max(taus)))
    # the bias analyses read the same checkpoints
    counted: dict[str, int] = {}
    for row in _run(duckdb_url, "bias_by_feature", benchmark="synthetic", epoch_budget=200, feature="num_maxpool3x3"):
        counted[row["supernet_name"]] = counted.get(row["supernet_name"], 0) + row["architectures"]
    assert counted == {"case0": 64, "case1": 64, "case2": 3}
    result = analysis.query(duckdb_url, "stability_supernets")
    assert any("fewer than 10 common architectures" in note for note in result.notes)


def test_bias_analyses_against_pandas_and_scipy(tmp_path, duckdb_url, shared_data):
    _published_supernet(tmp_path, duckdb_url, shared_data, "baseline_ft_bn/full/3")
    con = duck.connect(duckdb_url)
    frame = con.execute(
        "SELECT p.architecture_id, AVG(p.value) AS proxy, ANY_VALUE(t.validation_accuracy) AS truth, "
        "ANY_VALUE(a.has_input_output_edge) AS residual, ANY_VALUE(a.trainable_parameters) AS params "
        "FROM proxy_scores p JOIN ground_truth_mean t ON t.architecture_id = p.architecture_id "
        "AND t.evaluation_point = 'final' JOIN architectures a ON a.id = p.architecture_id GROUP BY 1").df()
    con.close()
    frame["proxy_pct"] = frame["proxy"].rank(method="min").sub(1).div(len(frame) - 1) * 100
    frame["truth_pct"] = frame["truth"].rank(method="min").sub(1).div(len(frame) - 1) * 100
    rows = {r["feature_value"]: r for r in _run(duckdb_url, "bias_by_feature")}
    for value, group in frame.groupby("residual"):
        row = rows[str(value).lower()]
        assert row["architectures"] == len(group)
        assert row["over_evaluation"] == pytest.approx(group["proxy_pct"].mean() - group["truth_pct"].mean())
    assert rows["true"]["over_evaluation"] > 10  # seed 000: residual cells are over-evaluated
    (params,) = _run(duckdb_url, "bias_parameters")
    assert params["proxy_vs_parameters"] == pytest.approx(spearmanr(frame["proxy"], frame["params"]).statistic)
    assert params["truth_vs_parameters"] == pytest.approx(spearmanr(frame["truth"], frame["params"]).statistic)
    (top,) = _run(duckdb_url, "top_k", k=10, runs=3)
    r = top["architectures_ranked"] - top["rank_in_subspace"] + 1
    assert top["probability_to_surpass_random"] == pytest.approx(1 - (1 - r / top["architectures_ranked"]) ** 3)


@pytest.fixture(scope="module")
def one_supernet(tmp_path_factory):
    url = f"duckdb:///{tmp_path_factory.mktemp('h') / 'h.duckdb'}"
    truth = _synthetic_warehouse(url, [np.zeros(64)])
    return url, truth


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Proxies are accuracies or losses: values with 6 decimals. (Near 1e-240, DuckDB's CORR
# underflows to NaN where scipy, which normalizes first, does not.)
@given(st.lists(st.sampled_from([0.0, 0.5, 1.0]) | st.floats(-5, 5).map(lambda v: round(v, 6)), min_size=64, max_size=64))
def test_correlation_sql_matches_scipy_under_hypothesis(one_supernet, proxy):
    url, truth = one_supernet
    with database.warehouse(url) as engine, engine.begin() as connection:
        ids = [i for (i,) in connection.execute(sa.text(
            "SELECT id FROM architectures WHERE search_space = 'ws64' ORDER BY canonical_key"))]
        connection.execute(sa.text("UPDATE proxy_scores SET value = v.value FROM (SELECT UNNEST(:ids) AS id, "
                                   "UNNEST(:values) AS value) v WHERE proxy_scores.architecture_id = v.id"),
                           {"ids": ids, "values": [float(p) for p in proxy]})
    (row,) = _run(url, "correlation", epoch_budget=200, benchmark="synthetic")
    if np.ptp(proxy) == 0:
        assert row["proxy_is_constant"] and row["spearman"] is None
        return
    assert row["spearman"] == pytest.approx(spearmanr(proxy, truth).statistic, abs=1e-9)
    assert row["kendall"] == pytest.approx(kendalltau(proxy, truth).statistic, abs=1e-9)
    assert row["pearson"] == pytest.approx(pearsonr(proxy, truth).statistic, abs=1e-9)


def test_correlation_by_subspace_sample_and_chosen_repeat(tmp_path, duckdb_url, shared_data):
    _published_supernet(tmp_path, duckdb_url, shared_data, "baseline_ft_bn/full/1")
    con = duck.connect(duckdb_url)
    frame = con.execute(
        "SELECT p.value AS proxy, a.has_input_output_edge AS residual, "
        "(SELECT validation_accuracy FROM ground_truth_results g WHERE g.architecture_id = p.architecture_id "
        " AND g.repeat = 0 AND g.evaluation_point = 'final') AS truth0 "
        "FROM proxy_scores p JOIN architectures a ON a.id = p.architecture_id").df()
    con.close()
    (repeat0,) = _run(duckdb_url, "correlation", repeat=0)
    assert repeat0["spearman"] == pytest.approx(spearmanr(frame["proxy"], frame["truth0"]).statistic)
    (residual,) = _run(duckdb_url, "correlation", subspace="RES")
    assert residual["n"] == int(frame["residual"].sum())
    (sampled,) = _run(duckdb_url, "correlation", sample="to-share/baseline_ft_bn/full/1")
    assert sampled["n"] == 1000
    assert _run(duckdb_url, "correlation", sample="no-such-sample") == []


def test_yu_et_als_final_searched_model_and_p_over_r_on_their_population(tmp_path):
    """Yu, Ranftl, Salzmann 2020: of 200 sampled NB201 architectures, the mean ground truth of the
    3 the super-net ranks best ("final searched model"), s-KdT on the same 200, and P>R with r
    counted among NB201's 15,625 architectures (population=cells) or its 6,466 classes; all
    recomputed here in numpy from the rows."""
    from wsdb.warehouse.schema import ArchitectureSample, ArchitectureSampleMember

    db = tmp_path / "w.duckdb"
    url = f"duckdb:///{db}"
    assert run_cli("init", "--db", str(db)).returncode == 0  # every nb201 class, with its 15,625 indices
    rng = np.random.default_rng(7)
    now = utcnow()
    with database.warehouse(url) as engine, engine.begin() as connection:
        ids = [i for (i,) in connection.execute(sa.text(
            "SELECT id FROM architectures WHERE search_space = 'nb201' ORDER BY canonical_key"))]
        cells = dict(connection.execute(sa.text("SELECT architecture_id, COUNT(*) FROM architecture_encodings "
                                                "WHERE encoding_kind = 'nb201-index' GROUP BY 1")).fetchall())
        truth = dict(zip(ids, np.round(rng.uniform(0.1, 0.95, size=len(ids)), 4)))
        insert_new_rows(connection, GroundTruthResult.__table__, ground_truth_rows(
            [{"architecture_id": a, "benchmark_arch_id": str(a), "validation_accuracy": float(t)}
             for a, t in truth.items()],
            benchmark="nasbench201", dataset="cifar10-valid", epoch_budget=200, repeat=0, epoch=200,
            evaluation_point="final"))
        chosen = [int(i) for i in rng.choice(ids, size=250, replace=False)]
        sample, outside = chosen[:200], chosen[200:]
        insert_new_rows(connection, ArchitectureSample.__table__, {
            "name": ["yu-200"], "search_space": ["nb201"], "seed": [0], "created_at": [now]})
        insert_new_rows(connection, ArchitectureSampleMember.__table__, {
            "sample_name": ["yu-200"] * 200, "position": list(range(200)), "architecture_id": sample})
        insert_new_rows(connection, Supernet.__table__, {
            "id": ["net"], "search_space": ["nb201"], "subspace": ["FULL"], "name": ["net"], "config_json": ['{"a": 1}'],
            "status": ["imported"], "origin": ["imported"], "created_at": [now]})
        insert_new_rows(connection, Checkpoint.__table__, {
            "id": ["net-final"], "supernet_id": ["net"], "label": ["epoch-400"], "epoch": [400], "created_at": [now]})
        proxy = {a: float(truth[a] + rng.normal(scale=0.2)) for a in chosen}
        for a in outside:  # architectures scored outside the sample, ranked best: the sample must keep them out
            proxy[a] = 5.0 + rng.uniform()
        insert_new_rows(connection, ProxyScore.__table__, {
            "checkpoint_id": ["net-final"] * len(chosen), "architecture_id": chosen, "protocol_id": ["no-ft"] * len(chosen),
            "metric": ["validation_accuracy"] * len(chosen), "evaluation_repeat": [0] * len(chosen),
            "value": [proxy[a] for a in chosen], "evaluated_at": [now] * len(chosen)})
    top3 = sorted(sample, key=lambda a: (-proxy[a], a))[:3]
    best = max(truth[a] for a in top3)
    values = np.array(list(truth.values()))
    weights = np.array([cells[a] for a in truth])
    expected_cells = 1 - (1 - weights[values <= best].sum() / weights.sum()) ** 2
    expected_classes = 1 - (1 - (values <= best).sum() / len(values)) ** 2
    assert weights.sum() == 15_625
    for population, expected in (("cells", expected_cells), ("classes", expected_classes)):
        (row,) = _run(url, "top_k", k=3, sample="yu-200", population=population, runs=2)
        assert row["mean_truth_top_k"] == pytest.approx(np.mean([truth[a] for a in top3]))
        assert row["best_truth"] == pytest.approx(best)
        assert row["probability_to_surpass_random"] == pytest.approx(expected)
    assert expected_cells != pytest.approx(expected_classes)
    (factor,) = _run(url, "factors", sample="yu-200", population="cells")
    assert factor["final_accuracy"] == pytest.approx(np.mean([truth[a] for a in top3]))
    assert factor["architectures"] == 200 and factor["top_k"] == 3
    from wsdb.analyses import statistics

    in_order = sorted(sample)
    assert factor["sparse_kendall"] == pytest.approx(statistics.sparse_kendall_tau(
        [proxy[a] for a in in_order], [truth[a] for a in in_order], 0.001))
    with pytest.raises(WsdbError, match="population must be one of classes, cells"):
        analysis.run(duck.connect(url), "top_k", {"population": "raw"})


def test_analyses_take_the_same_naming_parameters():
    """Every analysis with a row per super-net can be narrowed to one (`supernet`), and top_k takes
    the sub-space and sample that correlation takes, checked against its rows by hand in
    test_yu_et_als_final_searched_model_and_p_over_r_on_their_population."""
    for item in analysis.shipped().values():
        parameters = item.all_parameters()
        if "supernet_id" in item.columns and not {"search_space"} & set(parameters):
            assert "supernet" in parameters, item.name
    for name in ("correlation", "top_k"):
        assert {"supernet", "subspace", "sample", "protocol", "metric", "benchmark", "dataset"} <= set(
            analysis.load(name).all_parameters()), name
