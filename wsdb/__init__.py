"""wsdb: a warehouse for weight-sharing NAS: canonical architectures, ground truth, super-nets, proxy scores.

From plain Python, `wsdb.connect(path)` opens a warehouse file as a DuckDB connection with
wsdb's statistics functions registered (spearman_rho, kendall_tau_b, sparse_kendall_tau,
student_t_quantile), read-only and sandboxed unless `read_only=False`:

    import wsdb
    con = wsdb.connect("study.duckdb")
    con.sql("SELECT supernet_id, checkpoint_id, protocol_id, metric, "
            "spearman_rho(LIST(proxy_value), LIST(truth_validation_accuracy)) AS rho "
            "FROM proxy_vs_truth GROUP BY ALL").show()
"""

__version__ = "0.1.0"


def connect(path: str, read_only: bool = True):
    """A DuckDB connection to the warehouse at `path` (a file or duckdb:/// URL) with wsdb's
    functions registered; read-only opens share the file with other readers."""
    from wsdb.warehouse import db
    from wsdb.analyses import duck

    return duck.connect(db.resolve_url(str(path)), read_only=read_only)
