"""Search simulations on benchmark ground truth: random search, regularized evolution and
weight-sharing-guided search, with their regret traces."""
