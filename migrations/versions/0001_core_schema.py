"""Core warehouse schema: search spaces, canonical architectures, ground truth, super-nets,
checkpoints, proxy scores, samples, jobs, and the views over them.

Revision ID: 0001
Revises:
Create Date: 2026-11-22

Self-contained on purpose: a migration must keep creating the same schema when the
application code moves on, so nothing here imports wsdb.
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SEARCH_SPACES = [
    {
        "name": "nb101",
        "description": "NAS-Bench-101 cells (Ying et al. 2019): DAGs of <= 7 vertices and <= 9 edges, "
        "3 operations, CIFAR-10",
        "canonical_key_kind": "official module hash (md5 of the pruned cell)",
        "num_architectures": 423624,
    },
    {
        "name": "nb201",
        "description": "NAS-Bench-201 / NATS-Bench topology cells (Dong & Yang 2020): 6 edges, 5 operations",
        "canonical_key_kind": "NATS unique string (to_unique_str with consider_zero)",
        "num_architectures": 6466,
    },
    {
        "name": "ws64",
        "description": "the 64-architecture space of Zhang et al. 2020 (Deeper Insights into Weight Sharing)",
        "canonical_key_kind": "three-digit label 111..444",
        "num_architectures": 64,
    },
]

# (search space, sub-space, description, SQL condition on the architectures table).
# Mirrors wsdb.spaces.*.SUBSPACES; a test checks both agree.
SUBSPACES = [
    ("nb101", "FULL", "every cell of NAS-Bench-101", "TRUE"),
    *[
        (
            "nb101",
            f"A{n}",
            f"exactly {n} intermediate vertex{'es' if n > 1 else ''} feed{'s' if n == 1 else ''} the output "
            "(input->output edge free); Pourchot et al. 2020",
            f"num_output_inputs = {n}",
        )
        for n in (1, 2, 3, 4)
    ],
    ("nb101", "RES", "cells with an input->output (residual) edge; Pourchot et al. 2020", "has_input_output_edge"),
    ("nb101", "NRES", "cells without an input->output edge; Pourchot et al. 2020", "NOT has_input_output_edge"),
    ("nb201", "FULL", "every cell of NAS-Bench-201", "TRUE"),
    ("ws64", "FULL", "all 64 architectures", "TRUE"),
]

# Evaluation protocols of the seeds (000: NO-FT, BNS-FT on 4 batches; 002: fine-tuning).
EVALUATION_PROTOCOLS = [
    ("no-ft", "no-ft", {}, "use the super-net's running batch-norm statistics as they are"),
    (
        "bns-ft:4",
        "bns-ft",
        {"batches": 4},
        "re-estimate batch-norm statistics as a cumulative average over 4 training batches, then validate",
    ),
    ("published", "published", {}, "a proxy score as published; the protocol is recorded on the super-net"),
]


def _timestamp(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(), nullable=nullable)


def upgrade() -> None:
    search_spaces = op.create_table(
        "search_spaces",
        sa.Column("name", sa.String(), primary_key=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("canonical_key_kind", sa.Text(), nullable=False),
        sa.Column("num_architectures", sa.Integer()),
    )
    subspaces = op.create_table(
        "subspaces",
        sa.Column("search_space", sa.String(), sa.ForeignKey("search_spaces.name"), primary_key=True),
        sa.Column("name", sa.String(), primary_key=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("predicate_sql", sa.Text(), nullable=False),
    )
    architecture_id_seq = sa.Sequence("architectures_id_seq")
    op.execute(sa.schema.CreateSequence(architecture_id_seq))
    op.create_table(
        "architectures",
        sa.Column(
            "id", sa.Integer(), server_default=architecture_id_seq.next_value(), primary_key=True
        ),
        sa.Column("search_space", sa.String(), sa.ForeignKey("search_spaces.name"), nullable=False),
        sa.Column("canonical_key", sa.Text(), nullable=False),
        sa.Column("canonical_encoding", sa.Text(), nullable=False),
        sa.Column("trainable_parameters", sa.BigInteger()),
        *[
            sa.Column(name, sa.Integer())
            for name in ("num_vertices", "num_edges", "num_output_inputs")
        ],
        sa.Column("has_input_output_edge", sa.Boolean()),
        *[
            sa.Column(name, sa.Integer())
            for name in (
                "depth", "num_conv3x3", "num_conv1x1", "num_maxpool3x3", "num_avgpool3x3",
                "num_skip", "num_none", "num_sep_conv3x3", "num_sep_conv5x5", "num_dil_conv5x5",
            )
        ],
        sa.Column("functional_key", sa.Text()),
        sa.UniqueConstraint("search_space", "canonical_key"),
    )
    op.create_table(
        "architecture_encodings",
        sa.Column("encoding_kind", sa.String(), primary_key=True),
        sa.Column("encoding", sa.String(), primary_key=True),
        sa.Column("architecture_id", sa.Integer(), sa.ForeignKey("architectures.id"), nullable=False),
    )
    op.create_table(
        "ground_truth_results",
        sa.Column("architecture_id", sa.Integer(), sa.ForeignKey("architectures.id"), primary_key=True),
        sa.Column("benchmark", sa.String(), primary_key=True),
        sa.Column("dataset", sa.String(), primary_key=True),
        sa.Column("epoch_budget", sa.Integer(), primary_key=True),
        sa.Column("benchmark_arch_id", sa.String(), primary_key=True),
        sa.Column("repeat", sa.Integer(), primary_key=True),
        sa.Column("epoch", sa.Integer(), primary_key=True),
        sa.Column("evaluation_point", sa.String(), nullable=False),
        *[
            sa.Column(name, sa.Double())
            for name in (
                "train_accuracy", "train_loss", "validation_accuracy", "validation_loss",
                "validation_accuracy_std", "test_accuracy", "test_loss", "training_seconds",
            )
        ],
        sa.Column("source", sa.Text()),
    )
    op.create_table(
        "supernets",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("search_space", sa.String(), sa.ForeignKey("search_spaces.name"), nullable=False),
        sa.Column("subspace", sa.String()),
        sa.Column("name", sa.Text()),
        sa.Column("config_json", sa.Text(), nullable=False),
        sa.Column("seed", sa.Integer()),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("origin", sa.String(), nullable=False),
        *[sa.Column(name, sa.Text()) for name in ("source", "code_version", "host", "device", "error")],
        sa.Column("training_seconds", sa.Double()),
        _timestamp("created_at", nullable=False),
        _timestamp("started_at"),
        _timestamp("finished_at"),
    )
    op.create_table(
        "checkpoints",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("supernet_id", sa.String(32), sa.ForeignKey("supernets.id"), nullable=False),
        sa.Column("label", sa.String(), nullable=False),
        sa.Column("epoch", sa.Integer()),
        sa.Column("step", sa.BigInteger()),
        sa.Column("uri", sa.Text()),
        sa.Column("sha256", sa.String(64)),
        sa.Column("size_bytes", sa.BigInteger()),
        _timestamp("created_at", nullable=False),
        sa.UniqueConstraint("supernet_id", "label"),
    )
    protocols = op.create_table(
        "evaluation_protocols",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("parameters_json", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
    )
    op.create_table(
        "proxy_scores",
        sa.Column("checkpoint_id", sa.String(32), sa.ForeignKey("checkpoints.id"), primary_key=True),
        sa.Column("architecture_id", sa.Integer(), sa.ForeignKey("architectures.id"), primary_key=True),
        sa.Column("protocol_id", sa.String(), sa.ForeignKey("evaluation_protocols.id"), primary_key=True),
        sa.Column("metric", sa.String(), primary_key=True),
        sa.Column("evaluation_repeat", sa.Integer(), primary_key=True, server_default=sa.text("0")),
        sa.Column("value", sa.Double()),
        sa.Column("elapsed_seconds", sa.Double()),
        _timestamp("evaluated_at", nullable=False),
    )
    op.create_table(
        "zero_cost_scores",
        *[sa.Column(name, sa.String(), primary_key=True) for name in ("source", "dataset", "encoding_kind", "encoding", "metric")],
        sa.Column("architecture_id", sa.Integer(), sa.ForeignKey("architectures.id"), nullable=False),
        sa.Column("value", sa.Double()),
        sa.Column("elapsed_seconds", sa.Double()),
    )
    op.create_table(
        "architecture_samples",
        sa.Column("name", sa.String(), primary_key=True),
        sa.Column("search_space", sa.String(), sa.ForeignKey("search_spaces.name"), nullable=False),
        sa.Column("subspace", sa.String()),
        sa.Column("description", sa.Text()),
        sa.Column("seed", sa.Integer()),
        _timestamp("created_at", nullable=False),
    )
    op.create_table(
        "architecture_sample_members",
        sa.Column("sample_name", sa.String(), sa.ForeignKey("architecture_samples.name"), primary_key=True),
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column("architecture_id", sa.Integer(), sa.ForeignKey("architectures.id"), nullable=False),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("payload_json", sa.Text(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in ("priority", "attempts", "max_attempts")],
        sa.Column("worker", sa.Text()),
        _timestamp("lease_expires_at"),
        _timestamp("heartbeat_at"),
        sa.Column("last_error", sa.Text()),
        sa.Column("result_json", sa.Text()),
        _timestamp("created_at", nullable=False),
        _timestamp("started_at"),
        _timestamp("finished_at"),
    )

    op.bulk_insert(search_spaces, SEARCH_SPACES)
    op.bulk_insert(
        subspaces,
        [
            {"search_space": s, "name": n, "description": d, "predicate_sql": p}
            for s, n, d, p in SUBSPACES
        ],
    )
    op.bulk_insert(
        protocols,
        [
            {"id": i, "name": n, "parameters_json": json.dumps(p, sort_keys=True), "description": d}
            for i, n, p, d in EVALUATION_PROTOCOLS
        ],
    )

    op.execute(
        "CREATE VIEW architecture_subspaces AS\n"
        + "\nUNION ALL\n".join(
            f"SELECT id AS architecture_id, search_space, '{name}' AS subspace "
            f"FROM architectures WHERE search_space = '{space}' AND ({predicate})"
            for space, name, _, predicate in SUBSPACES
        )
    )
    # Mean over repeats per architecture, benchmark, dataset, budget and evaluation point;
    # a published mean (repeat -1) stands alone, with its published standard deviation.
    op.execute(
        """
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
    )
    # Every proxy score next to the mean final ground truth of its architecture (one row per
    # benchmark dataset and budget that has any: filter on dataset/epoch_budget).
    op.execute(
        """
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
    )


def downgrade() -> None:
    for view in ("proxy_vs_truth", "ground_truth_mean", "architecture_subspaces"):
        op.execute(f"DROP VIEW {view}")
    for table in (
        "jobs", "architecture_sample_members", "architecture_samples", "zero_cost_scores", "proxy_scores",
        "evaluation_protocols", "checkpoints", "supernets", "ground_truth_results",
        "architecture_encodings", "architectures", "subspaces", "search_spaces",
    ):
        op.drop_table(table)
    op.execute(sa.schema.DropSequence(sa.Sequence("architectures_id_seq")))
