"""Super-net training and evaluation workers (issue: `wsdb run-supernet`, `wsdb evaluate`)."""
