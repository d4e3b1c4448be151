"""Unpickling through an allow-list.

A pickle can name any importable callable and have it called while loading, which runs
code. Published result files only need numpy arrays, dtypes and scalars plus plain Python
containers, so the unpickler admits exactly those; anything else is refused before it is
imported, let alone called.
"""

from __future__ import annotations

import io
import pickle

from wsdb.base.errors import BadFile

# (module, name) pairs a numpy-and-builtins pickle needs; numpy 2 renamed numpy.core to
# numpy._core, and pickles written under either name exist.
_ALLOWED = {
    (module, name)
    for prefix in ("numpy.core", "numpy._core")
    for module, name in (
        (f"{prefix}.multiarray", "_reconstruct"),
        (f"{prefix}.multiarray", "scalar"),
        (f"{prefix}.numeric", "_frombuffer"),
    )
} | {("numpy", "ndarray"), ("numpy", "dtype")} | {
    # Protocol-2 pickles written by Python 3 spell bytes as _codecs.encode(text, "latin1"):
    # a pure function (CIFAR-style batches re-saved by Python 3 use it).
    ("_codecs", "encode"),
}
_ALLOWED_BUILTINS = {"dict", "list", "tuple", "set", "frozenset", "int", "float", "complex", "str", "bytes", "bool", "slice", "range"}


class _Refused(pickle.UnpicklingError):
    pass


class _AllowListUnpickler(pickle.Unpickler):
    extra: frozenset = frozenset()

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED | self.extra or (module == "builtins" and name in _ALLOWED_BUILTINS):
            return super().find_class(module, name)
        raise _Refused(f"refusing to load {module}.{name}")


def load_numpy_pickle(path, data: bytes | None = None, also_allow: frozenset = frozenset(), encoding: str = "ASCII"):
    """Load a pickle that may hold only numpy arrays/scalars and builtin containers (plus
    the (module, name) pairs of `also_allow`); encoding="latin1" reads Python 2 pickles
    such as the CIFAR batches."""
    try:
        if data is None:
            with open(path, "rb") as f:
                data = f.read()
        unpickler = _AllowListUnpickler(io.BytesIO(data), encoding=encoding)
        unpickler.extra = frozenset(also_allow)
        return unpickler.load()
    except _Refused as exc:
        raise BadFile(f"{path}: unsafe pickle: {exc} (only numpy arrays and builtins are allowed)") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise BadFile(f"{path}: not a readable pickle ({type(exc).__name__}: {exc})") from None
