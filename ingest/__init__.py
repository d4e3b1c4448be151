"""Ingesters: benchmark and publication files in, warehouse rows out (issue: `wsdb ingest`)."""
