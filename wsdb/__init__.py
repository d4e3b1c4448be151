"""wsdb: a warehouse for weight-sharing NAS: canonical architectures, ground truth, super-nets, proxy scores."""
__version__ = "0.1.0"
