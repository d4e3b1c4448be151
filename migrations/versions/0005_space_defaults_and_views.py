"""Each search space names its own ground truth; views that do not double-count; papers cited
by name in stored text.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

- search_spaces gets default_benchmark, default_dataset, default_epoch_budget: the ground
  truth an analysis of a super-net of that space uses unless told otherwise (analyses used
  NB101's everywhere, so an nb201 or ws64 super-net came back empty).
- ground_truth_mean keeps a published mean (repeat -1) apart from individual runs (`kind`)
  and counts the benchmark cells it averaged (`num_cells`: NB201 trains isomorphic cells
  separately); it averaged both kinds together before.
- ground_truth_final: one row per (architecture, benchmark, dataset, budget) at the final
  evaluation point, from the runs when there are any, else from the published mean.
- proxy_vs_truth: one row per proxy score, next to its space's default ground truth (it
  repeated a score once per benchmark and dataset before).
- supernets.data_dir: where the training data lay, so `wsdb evaluate` and workers reuse it.
- Stored text that named papers by internal file names now cites them.
DuckDB-safe: nullable columns, UPDATEs of unindexed columns, views dropped and recreated.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

DEFAULTS = [("nb101", "nasbench101", "cifar10", 108), ("nb201", "nasbench201", "cifar10-valid", 200),
            ("ws64", "ws64-paper", "cifar10", 200)]
# Earlier wsdb stored, next to each citation, the relative path of the project's working copy
# of the paper ("../<folder>/000"); regular expressions (the same in DuckDB and PostgreSQL)
# replace it by the paper's identifier, or by its short citation where it stood alone.
CITATIONS = [
    (r"To Share or Not To Share \(\.\./[a-z]+/000\)",
     "To Share or Not To Share: An Extensive Appraisal of Weight-Sharing (arXiv:2002.04289)"),
    (r"Zhang et al\. 2020: Deeper Insights into Weight Sharing in Neural Architecture Search \(\.\./[a-z]+/004\)",
     "Zhang, Lin, Jiang, Zhang, Wang, Xue, Zhang, Yang 2020: Deeper Insights into Weight Sharing in Neural "
     "Architecture Search (arXiv:2001.01431)"),
    (r"\.\./[a-z]+/000", "Pourchot et al. 2020"),
]
TEXT_COLUMNS = [("supernets", "config_json"), ("supernets", "source"), ("ground_truth_results", "source"),
                ("architecture_samples", "description"), ("subspaces", "description")]

GROUND_TRUTH_MEAN = """
CREATE VIEW ground_truth_mean AS
SELECT g.architecture_id, a.search_space, g.benchmark, g.dataset, g.epoch_budget, g.epoch, g.evaluation_point,
       CASE WHEN g.repeat < 0 THEN 'published-mean' ELSE 'runs' END AS kind,
       COUNT(*) AS num_repeats,
       COUNT(DISTINCT g.benchmark_arch_id) AS num_cells,
       AVG(g.train_accuracy) AS train_accuracy,
       AVG(g.validation_accuracy) AS validation_accuracy,
       COALESCE(STDDEV_SAMP(g.validation_accuracy), MAX(g.validation_accuracy_std)) AS validation_accuracy_std,
       AVG(g.test_accuracy) AS test_accuracy,
       STDDEV_SAMP(g.test_accuracy) AS test_accuracy_std,
       AVG(g.training_seconds) AS training_seconds
FROM ground_truth_results g JOIN architectures a ON a.id = g.architecture_id
GROUP BY g.architecture_id, a.search_space, g.benchmark, g.dataset, g.epoch_budget, g.epoch, g.evaluation_point,
         CASE WHEN g.repeat < 0 THEN 'published-mean' ELSE 'runs' END
"""
GROUND_TRUTH_FINAL = """
CREATE VIEW ground_truth_final AS
SELECT m.architecture_id, m.search_space, m.benchmark, m.dataset, m.epoch_budget, m.kind, m.num_repeats, m.num_cells,
       m.train_accuracy, m.validation_accuracy, m.validation_accuracy_std, m.test_accuracy, m.test_accuracy_std,
       m.training_seconds
FROM ground_truth_mean m
WHERE m.evaluation_point = 'final'
  AND (m.kind = 'runs' OR NOT EXISTS (
       SELECT 1 FROM ground_truth_results r
       WHERE r.architecture_id = m.architecture_id AND r.benchmark = m.benchmark AND r.dataset = m.dataset
         AND r.epoch_budget = m.epoch_budget AND r.evaluation_point = 'final' AND r.repeat >= 0))
"""
PROXY_VS_TRUTH = """
CREATE VIEW proxy_vs_truth AS
SELECT c.supernet_id, p.checkpoint_id, c.label AS checkpoint_label, c.epoch AS checkpoint_epoch,
       p.protocol_id, p.metric, p.evaluation_repeat, p.architecture_id, a.search_space,
       p.value AS proxy_value,
       s.default_benchmark AS benchmark, s.default_dataset AS dataset, s.default_epoch_budget AS epoch_budget,
       t.kind AS truth_kind, t.num_repeats,
       t.validation_accuracy AS truth_validation_accuracy,
       t.test_accuracy AS truth_test_accuracy
FROM proxy_scores p
JOIN checkpoints c ON c.id = p.checkpoint_id
JOIN architectures a ON a.id = p.architecture_id
JOIN search_spaces s ON s.name = a.search_space
LEFT JOIN ground_truth_final t
       ON t.architecture_id = p.architecture_id AND t.benchmark = s.default_benchmark
      AND t.dataset = s.default_dataset AND t.epoch_budget = s.default_epoch_budget
"""


NEW_COLUMNS = (("search_spaces", "default_benchmark", sa.Text()), ("search_spaces", "default_dataset", sa.Text()),
               ("search_spaces", "default_epoch_budget", sa.Integer()), ("supernets", "data_dir", sa.Text()))


def _columns(table: str) -> set[str]:
    # information_schema, not sa.inspect: reflection through duckdb-engine is broken
    return {name for (name,) in op.get_bind().execute(sa.text(
        "SELECT column_name FROM information_schema.columns WHERE table_name = :t"), {"t": table})}


def upgrade() -> None:
    for table, name, kind in NEW_COLUMNS:
        if name not in _columns(table):  # a DuckDB warehouse downgraded to 0004 kept them
            op.add_column(table, sa.Column(name, kind))
    for space, benchmark, dataset, budget in DEFAULTS:
        op.execute(sa.text("UPDATE search_spaces SET default_benchmark = :b, default_dataset = :d, "
                           "default_epoch_budget = :e WHERE name = :s")
                   .bindparams(b=benchmark, d=dataset, e=budget, s=space))
    for table, column in TEXT_COLUMNS:
        for pattern, citation in CITATIONS:
            op.execute(sa.text(f"UPDATE {table} SET {column} = regexp_replace({column}, :pattern, :citation, 'g') "
                               f"WHERE {column} LIKE '%../%'").bindparams(pattern=pattern, citation=citation))
    op.execute("DROP VIEW proxy_vs_truth")
    op.execute("DROP VIEW ground_truth_mean")
    op.execute(GROUND_TRUTH_MEAN)
    op.execute(GROUND_TRUTH_FINAL)
    op.execute(PROXY_VS_TRUTH)


OLD_GROUND_TRUTH_MEAN = """
CREATE VIEW ground_truth_mean AS
SELECT g.architecture_id, a.search_space, g.benchmark, g.dataset, g.epoch_budget,
       g.epoch, g.evaluation_point,
       COUNT(*) AS num_repeats,
       AVG(g.train_accuracy) AS train_accuracy,
       AVG(g.validation_accuracy) AS validation_accuracy,
       COALESCE(STDDEV_SAMP(g.validation_accuracy), MAX(g.validation_accuracy_std)) AS validation_accuracy_std,
       AVG(g.test_accuracy) AS test_accuracy,
       STDDEV_SAMP(g.test_accuracy) AS test_accuracy_std,
       AVG(g.training_seconds) AS training_seconds
FROM ground_truth_results g JOIN architectures a ON a.id = g.architecture_id
GROUP BY g.architecture_id, a.search_space, g.benchmark, g.dataset, g.epoch_budget,
         g.epoch, g.evaluation_point
"""
OLD_PROXY_VS_TRUTH = """
CREATE VIEW proxy_vs_truth AS
SELECT c.supernet_id, p.checkpoint_id, c.label AS checkpoint_label, c.epoch AS checkpoint_epoch,
       p.protocol_id, p.metric, p.evaluation_repeat, p.architecture_id, a.search_space,
       p.value AS proxy_value,
       t.benchmark, t.dataset, t.epoch_budget, t.num_repeats,
       t.validation_accuracy AS truth_validation_accuracy,
       t.test_accuracy AS truth_test_accuracy
FROM proxy_scores p
JOIN checkpoints c ON c.id = p.checkpoint_id
JOIN architectures a ON a.id = p.architecture_id
LEFT JOIN ground_truth_mean t
       ON t.architecture_id = p.architecture_id AND t.evaluation_point = 'final'
"""


def downgrade() -> None:
    for view in ("proxy_vs_truth", "ground_truth_final", "ground_truth_mean"):
        op.execute(f"DROP VIEW {view}")
    op.execute(OLD_GROUND_TRUTH_MEAN)
    op.execute(OLD_PROXY_VS_TRUTH)
    # DuckDB cannot drop a column of a table that foreign keys reference: there the columns
    # stay (unused by 0004) and an upgrade finds them.
    if op.get_bind().dialect.name != "duckdb":
        for table, name, _ in reversed(NEW_COLUMNS):
            op.drop_column(table, name)
