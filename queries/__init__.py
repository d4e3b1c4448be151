"""Analyses as SQL files with a header: what they compute, parameters, output columns."""
