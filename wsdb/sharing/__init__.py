"""Sharing a study between labs: bundles (written, and read as untrusted input through
bundle_rules) and copying a PostgreSQL warehouse into a DuckDB file (pull)."""
