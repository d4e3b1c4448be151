"""The warehouse schema as SQLAlchemy 2 models.

Migrations under migrations/ create exactly this (a test compares them on PostgreSQL).
Conventions a reader of the raw database should know:
- accuracies are fractions in [0, 1] in every table, whatever the source used;
- times are seconds; timestamps are UTC without a time zone;
- `*_json` columns hold JSON text (portable between DuckDB and PostgreSQL);
- super-nets, checkpoints and jobs have 32-hex text ids, so rows made by workers on many
  machines never collide; architectures have integer ids for compact joins.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Double,
    ForeignKey,
    Integer,
    Sequence,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class SearchSpaceRow(Base):
    """A search space (nb101, nb201, ws64), what identifies its architectures, and the ground
    truth its analyses use unless told otherwise (benchmark, dataset, epoch budget)."""

    __tablename__ = "search_spaces"
    name: Mapped[str] = mapped_column(String, primary_key=True)
    description: Mapped[str] = mapped_column(Text)
    canonical_key_kind: Mapped[str] = mapped_column(Text)
    num_architectures: Mapped[int | None] = mapped_column(Integer)
    default_benchmark: Mapped[str | None] = mapped_column(Text)
    default_dataset: Mapped[str | None] = mapped_column(Text)
    default_epoch_budget: Mapped[int | None] = mapped_column(Integer)


class Subspace(Base):
    """A named sub-space of a search space, stored with what rebuilds it.

    kind: `predicate` (a condition on `architectures` columns, `predicate_sql`, applied by the
    view `architecture_subspaces`), or one whose members are listed in `subspace_members`:
    `construction` (a published definition: NAS-Bench-1Shot1 spaces, Zhang, Zhang, Yang's
    NB101 space, NB201's connected cells), `random` (a seeded uniform 1/k of a parent),
    `best` (the best 1/k of a parent by ground truth) or `membership` (a list a user gave).
    `parameters_json` holds the definition's parameters (parent, k, seed, benchmark, ...),
    `num_cells` the cells of a construction before isomorphic ones merge, `source` the
    citation or file it came from.
    """

    __tablename__ = "subspaces"
    search_space: Mapped[str] = mapped_column(ForeignKey("search_spaces.name"), primary_key=True)
    name: Mapped[str] = mapped_column(String, primary_key=True)
    description: Mapped[str] = mapped_column(Text)
    predicate_sql: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str | None] = mapped_column(String)
    parent: Mapped[str | None] = mapped_column(String)
    parameters_json: Mapped[str | None] = mapped_column(Text)
    num_cells: Mapped[int | None] = mapped_column(BigInteger)
    num_members: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime | None] = mapped_column(DateTime)


class SubspaceMember(Base):
    """An architecture of a sub-space whose members are listed (every kind but predicate)."""

    __tablename__ = "subspace_members"
    search_space: Mapped[str] = mapped_column(String, primary_key=True)
    subspace: Mapped[str] = mapped_column(String, primary_key=True)
    architecture_id: Mapped[int] = mapped_column(ForeignKey("architectures.id"), primary_key=True)


class SubspaceCell(Base):
    """A raw cell of a sub-space drawn over cells (random-cells/...): training samples these,
    duplicates of one class included, as Zhang, Zhang, Yang 2020's SPOS does."""

    __tablename__ = "subspace_cells"
    search_space: Mapped[str] = mapped_column(String, primary_key=True)
    subspace: Mapped[str] = mapped_column(String, primary_key=True)
    encoding: Mapped[str] = mapped_column(String, primary_key=True)  # nb201 arch string, ws64 label


architecture_id_seq = Sequence("architectures_id_seq")


class Architecture(Base):
    """One isomorphism class of a search space, with derived features.

    Feature columns that do not apply to a space (e.g. num_skip for nb101) are NULL.
    """

    __tablename__ = "architectures"
    __table_args__ = (UniqueConstraint("search_space", "canonical_key"),)
    id: Mapped[int] = mapped_column(
        Integer, architecture_id_seq, server_default=architecture_id_seq.next_value(), primary_key=True
    )
    search_space: Mapped[str] = mapped_column(ForeignKey("search_spaces.name"))
    canonical_key: Mapped[str] = mapped_column(Text)
    canonical_encoding: Mapped[str] = mapped_column(Text)
    trainable_parameters: Mapped[int | None] = mapped_column(BigInteger)
    num_vertices: Mapped[int | None] = mapped_column(Integer)
    num_edges: Mapped[int | None] = mapped_column(Integer)
    num_output_inputs: Mapped[int | None] = mapped_column(Integer)
    has_input_output_edge: Mapped[bool | None] = mapped_column(Boolean)
    depth: Mapped[int | None] = mapped_column(Integer)
    num_conv3x3: Mapped[int | None] = mapped_column(Integer)
    num_conv1x1: Mapped[int | None] = mapped_column(Integer)
    num_maxpool3x3: Mapped[int | None] = mapped_column(Integer)
    num_avgpool3x3: Mapped[int | None] = mapped_column(Integer)
    num_skip: Mapped[int | None] = mapped_column(Integer)
    num_none: Mapped[int | None] = mapped_column(Integer)
    num_sep_conv3x3: Mapped[int | None] = mapped_column(Integer)
    num_sep_conv5x5: Mapped[int | None] = mapped_column(Integer)
    num_dil_conv5x5: Mapped[int | None] = mapped_column(Integer)
    functional_key: Mapped[str | None] = mapped_column(Text)


FEATURE_COLUMNS = (
    "num_vertices", "num_edges", "num_output_inputs", "has_input_output_edge", "depth",
    "num_conv3x3", "num_conv1x1", "num_maxpool3x3", "num_avgpool3x3", "num_skip", "num_none",
    "num_sep_conv3x3", "num_sep_conv5x5", "num_dil_conv5x5", "functional_key",
)


class ArchitectureEncoding(Base):
    """A raw encoding (NB201 index or string, an unpruned or permuted NB101 cell, a ws64
    label) and the canonical architecture it denotes."""

    __tablename__ = "architecture_encodings"
    encoding_kind: Mapped[str] = mapped_column(String, primary_key=True)
    encoding: Mapped[str] = mapped_column(String, primary_key=True)
    architecture_id: Mapped[int] = mapped_column(ForeignKey("architectures.id"))


class GroundTruthResult(Base):
    """One stand-alone training run of a benchmark, at one evaluation point.

    Every repeat is its own row; reductions (mean over repeats, a chosen repeat) are made
    explicitly by queries, e.g. the view `ground_truth_mean`.
    benchmark_arch_id is the benchmark's own id of the trained network (NB101 module hash,
    NB201 arch index, ws64 label): NB201 trains isomorphic cells separately.
    repeat: NB101 repeat 0..2, NB201 training seed (777, 888, 999); -1 marks a published
    mean whose individual repeats were not published (validation_accuracy_std then holds the
    published standard deviation over those repeats).
    """

    __tablename__ = "ground_truth_results"
    architecture_id: Mapped[int] = mapped_column(ForeignKey("architectures.id"), primary_key=True)
    benchmark: Mapped[str] = mapped_column(String, primary_key=True)
    dataset: Mapped[str] = mapped_column(String, primary_key=True)
    epoch_budget: Mapped[int] = mapped_column(Integer, primary_key=True)
    benchmark_arch_id: Mapped[str] = mapped_column(String, primary_key=True)
    repeat: Mapped[int] = mapped_column(Integer, primary_key=True)
    epoch: Mapped[int] = mapped_column(Integer, primary_key=True)
    evaluation_point: Mapped[str] = mapped_column(String)
    train_accuracy: Mapped[float | None] = mapped_column(Double)
    train_loss: Mapped[float | None] = mapped_column(Double)
    validation_accuracy: Mapped[float | None] = mapped_column(Double)
    validation_loss: Mapped[float | None] = mapped_column(Double)
    validation_accuracy_std: Mapped[float | None] = mapped_column(Double)
    test_accuracy: Mapped[float | None] = mapped_column(Double)
    test_loss: Mapped[float | None] = mapped_column(Double)
    training_seconds: Mapped[float | None] = mapped_column(Double)
    source: Mapped[str | None] = mapped_column(Text)


class Supernet(Base):
    """A weight-sharing super-net: trained here by a worker, or imported from a publication."""

    __tablename__ = "supernets"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    search_space: Mapped[str] = mapped_column(ForeignKey("search_spaces.name"))
    subspace: Mapped[str | None] = mapped_column(String)
    name: Mapped[str | None] = mapped_column(Text)
    config_json: Mapped[str] = mapped_column(Text)
    seed: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String)  # registered, running, finished, failed, imported
    origin: Mapped[str] = mapped_column(String)  # trained, imported
    source: Mapped[str | None] = mapped_column(Text)  # publication or path it was imported from
    code_version: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(Text)
    device: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    training_seconds: Mapped[float | None] = mapped_column(Double)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)  # when training last (re)started
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    data_dir: Mapped[str | None] = mapped_column(Text)  # where the training data lay (evaluation reuses it)


class StandaloneRun(Base):
    """One stand-alone training by wsdb of one architecture under a named recipe
    (trainers/standalone.py); its per-epoch results are ground_truth_results rows of benchmark
    `wsdb-standalone` with repeat = seed. The final weights live outside the database (URI + sha256)."""

    __tablename__ = "standalone_runs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    architecture_id: Mapped[int] = mapped_column(ForeignKey("architectures.id"))
    search_space: Mapped[str] = mapped_column(String)
    encoding: Mapped[str] = mapped_column(Text)  # the cell as trained
    recipe: Mapped[str] = mapped_column(String)
    recipe_json: Mapped[str] = mapped_column(Text)
    dataset: Mapped[str] = mapped_column(String)
    epochs: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(BigInteger)
    trainable_parameters: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String)  # running, finished, failed
    error: Mapped[str | None] = mapped_column(Text)
    code_version: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(Text)
    device: Mapped[str | None] = mapped_column(Text)
    data_dir: Mapped[str | None] = mapped_column(Text)
    training_seconds: Mapped[float | None] = mapped_column(Double)
    checkpoint_uri: Mapped[str | None] = mapped_column(Text)
    checkpoint_sha256: Mapped[str | None] = mapped_column(String(64))
    checkpoint_size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class RunSeeds(Base):
    """The three seeds of a super-net trained here (Zhang et al. 2020, Deeper Insights, Table 1
    vary them one at a time); without a row, `supernets.seed` drove all three."""

    __tablename__ = "run_seeds"
    supernet_id: Mapped[str] = mapped_column(String(32), ForeignKey("supernets.id"), primary_key=True)
    init_seed: Mapped[int] = mapped_column(BigInteger)
    sampling_seed: Mapped[int] = mapped_column(BigInteger)
    data_seed: Mapped[int] = mapped_column(BigInteger)


class Checkpoint(Base):
    """A saved state of a super-net. The file lives outside the database (uri + sha256);
    an imported super-net's final state may have no file (uri NULL)."""

    __tablename__ = "checkpoints"
    __table_args__ = (UniqueConstraint("supernet_id", "label"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    supernet_id: Mapped[str] = mapped_column(ForeignKey("supernets.id"))
    label: Mapped[str] = mapped_column(String)  # e.g. epoch-432, step-39073, final
    epoch: Mapped[int | None] = mapped_column(Integer)
    step: Mapped[int | None] = mapped_column(BigInteger)
    uri: Mapped[str | None] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class EvaluationProtocol(Base):
    """How a super-net scores an architecture (no-ft, bns-ft with k batches, ...)."""

    __tablename__ = "evaluation_protocols"
    id: Mapped[str] = mapped_column(String, primary_key=True)  # e.g. bns-ft:4
    name: Mapped[str] = mapped_column(String)
    parameters_json: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)


class ProxyScore(Base):
    """An architecture's score under a super-net checkpoint and an evaluation protocol.

    evaluation_repeat numbers repeated evaluations of the same architecture (stochastic
    protocols such as BNS-FT give a new value each time; published samples contain repeats).
    """

    __tablename__ = "proxy_scores"
    checkpoint_id: Mapped[str] = mapped_column(ForeignKey("checkpoints.id"), primary_key=True)
    architecture_id: Mapped[int] = mapped_column(ForeignKey("architectures.id"), primary_key=True)
    protocol_id: Mapped[str] = mapped_column(ForeignKey("evaluation_protocols.id"), primary_key=True)
    metric: Mapped[str] = mapped_column(String, primary_key=True)  # validation_accuracy, ...
    evaluation_repeat: Mapped[int] = mapped_column(Integer, primary_key=True, server_default=text("0"))
    value: Mapped[float | None] = mapped_column(Double)
    elapsed_seconds: Mapped[float | None] = mapped_column(Double)
    evaluated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class PredictionFile(Base):
    """Per-image predictions and losses of an evaluation, in an HDF5 file outside the
    database (datasets: architecture_ids, labels, predictions, losses)."""

    __tablename__ = "prediction_files"
    __table_args__ = (UniqueConstraint("checkpoint_id", "protocol_id", "sample_name"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    checkpoint_id: Mapped[str] = mapped_column(ForeignKey("checkpoints.id"))
    protocol_id: Mapped[str] = mapped_column(ForeignKey("evaluation_protocols.id"))
    sample_name: Mapped[str] = mapped_column(ForeignKey("architecture_samples.name"))
    uri: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    architectures: Mapped[int] = mapped_column(Integer)
    images: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ZeroCostScore(Base):
    """A score computed for an architecture without a super-net (zero-cost and training-free
    proxies such as synflow, NASWOT, NTK; anything published per encoding), keyed by the raw
    encoding it was published with: isomorphic duplicates of a file stay distinct rows that
    point at the same architecture."""

    __tablename__ = "zero_cost_scores"
    source: Mapped[str] = mapped_column(String, primary_key=True)  # e.g. naslib, monet
    dataset: Mapped[str] = mapped_column(String, primary_key=True)
    encoding_kind: Mapped[str] = mapped_column(String, primary_key=True)
    encoding: Mapped[str] = mapped_column(String, primary_key=True)
    metric: Mapped[str] = mapped_column(String, primary_key=True)
    architecture_id: Mapped[int] = mapped_column(ForeignKey("architectures.id"))
    value: Mapped[float | None] = mapped_column(Double)
    elapsed_seconds: Mapped[float | None] = mapped_column(Double)


class ArchitectureWeight(Base):
    """θ of a checkpoint of a differentiable method: one weight per edge and operation."""

    __tablename__ = "architecture_weights"
    checkpoint_id: Mapped[str] = mapped_column(String(32), ForeignKey("checkpoints.id"), primary_key=True)
    edge: Mapped[int] = mapped_column(Integer, primary_key=True)
    operation: Mapped[str] = mapped_column(String, primary_key=True)
    weight: Mapped[float] = mapped_column(Double)


class EdgeWeight(Base):
    """β of a checkpoint of PC-DARTS: the weight of an edge among the edges into its node."""

    __tablename__ = "edge_weights"
    checkpoint_id: Mapped[str] = mapped_column(String(32), ForeignKey("checkpoints.id"), primary_key=True)
    edge: Mapped[int] = mapped_column(Integer, primary_key=True)
    weight: Mapped[float] = mapped_column(Double)


class DerivedArchitecture(Base):
    """The architecture a checkpoint's θ derives (argmax per edge, ties to the first listed
    operation) and the method's name (darts, gdas, pc-darts; gaea- prefixed when θ is updated
    by exponentiated gradient)."""

    __tablename__ = "derived_architectures"
    checkpoint_id: Mapped[str] = mapped_column(String(32), ForeignKey("checkpoints.id"), primary_key=True)
    architecture_id: Mapped[int] = mapped_column(ForeignKey("architectures.id"))
    method: Mapped[str] = mapped_column(String)
    training_seconds: Mapped[float | None] = mapped_column(Double)  # cumulative, at this checkpoint


class ArchitectureSample(Base):
    """A fixed, ordered list of architectures, so different super-nets are scored alike."""

    __tablename__ = "architecture_samples"
    name: Mapped[str] = mapped_column(String, primary_key=True)
    search_space: Mapped[str] = mapped_column(ForeignKey("search_spaces.name"))
    subspace: Mapped[str | None] = mapped_column(String)
    description: Mapped[str | None] = mapped_column(Text)
    seed: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ArchitectureSampleMember(Base):
    """Position -> architecture. A sample is a list: a published one may name an
    architecture twice (Pourchot et al.'s samples do), and is kept as published."""

    __tablename__ = "architecture_sample_members"
    sample_name: Mapped[str] = mapped_column(ForeignKey("architecture_samples.name"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    architecture_id: Mapped[int] = mapped_column(ForeignKey("architectures.id"))


class Job(Base):
    """Work for training/evaluation workers (claimed with a lease, reclaimed on expiry).

    attempts counts the claims that count against max_attempts (a worker that releases its
    job on SIGTERM gives its claim back); job_attempts has a row for every claim.
    """

    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String)  # train, evaluate
    payload_json: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String)  # queued, running, done, failed, cancelled
    priority: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    worker: Mapped[str | None] = mapped_column(Text)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    result_json: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    sweep: Mapped[str | None] = mapped_column(Text)  # the sweep that submitted it
    name: Mapped[str | None] = mapped_column(Text)  # readable: the super-net it trains or evaluates
    depends_on: Mapped[str | None] = mapped_column(String(32))  # claimable once that job is done


class JobAttempt(Base):
    """One claim of a job by a worker: where it ran and how it ended (running, done, failed,
    lost: its lease expired, released: the worker gave it back on SIGTERM)."""

    __tablename__ = "job_attempts"
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), primary_key=True)
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True)  # counts every claim, from 1
    worker: Mapped[str] = mapped_column(Text)
    host: Mapped[str] = mapped_column(Text)
    pid: Mapped[int] = mapped_column(Integer)
    device: Mapped[str | None] = mapped_column(Text)
    cluster_job: Mapped[str | None] = mapped_column(Text)  # e.g. Slurm 1234_7
    outcome: Mapped[str] = mapped_column(String)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)


class SearchRun(Base):
    """One simulated search (rs, re, ws) over the ground truth a warehouse holds.

    architectures_searched and best_test_accuracy state the space the regret is measured
    against; time_unit is 'seconds' (benchmark training time) or 'queries' where the ground
    truth has no training time.
    """

    __tablename__ = "search_runs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String)
    search_space: Mapped[str] = mapped_column(ForeignKey("search_spaces.name"))
    subspace: Mapped[str | None] = mapped_column(String)
    supernet_id: Mapped[str | None] = mapped_column(ForeignKey("supernets.id"))
    protocol_id: Mapped[str | None] = mapped_column(String)
    sample_name: Mapped[str | None] = mapped_column(String)
    config_json: Mapped[str] = mapped_column(Text)
    seed: Mapped[int | None] = mapped_column(Integer)
    architectures_searched: Mapped[int] = mapped_column(Integer)
    best_test_accuracy: Mapped[float] = mapped_column(Double)
    queries: Mapped[int] = mapped_column(Integer)
    time_unit: Mapped[str] = mapped_column(String)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


# One query of a simulated search: the architecture, its accuracies, the simulated time spent
# so far, and the test regret of the best-by-validation architecture so far. A Core table
# without a key: append-only, millions of rows go in at once; (run_id, step) is unique.
search_traces = Table(
    "search_traces",
    Base.metadata,
    Column("run_id", String(32), nullable=False),
    Column("step", Integer, nullable=False),
    Column("architecture_id", Integer, nullable=False),
    Column("simulated_time", Double, nullable=False),
    Column("validation_accuracy", Double),
    Column("test_accuracy", Double),
    Column("regret", Double, nullable=False),
)


VIEWS = ("architecture_subspaces", "ground_truth_mean", "ground_truth_final", "proxy_vs_truth")
