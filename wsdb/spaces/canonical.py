"""The value every search space produces for one isomorphism class."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CanonicalArchitecture:
    """One isomorphism class of a search space, as stored in the `architectures` table.

    canonical_key: the class identity (NB101 official module hash, NB201 NATS unique
        string, ws64 label); two encodings are the same architecture iff their keys match.
    canonical_encoding: a deterministic representative of the class, in the space's own
        text format (re-parsable by the space module).
    features: derived properties used by sub-spaces and bias analyses; keys are
        column names of the `architectures` table.
    subspaces: names of the sub-spaces this architecture belongs to.
    """

    search_space: str
    canonical_key: str
    canonical_encoding: str
    features: dict = field(default_factory=dict)
    subspaces: tuple[str, ...] = ()
    trainable_parameters: int | None = None

    def as_dict(self) -> dict:
        return {
            "search_space": self.search_space,
            "canonical_key": self.canonical_key,
            "canonical_encoding": self.canonical_encoding,
            "trainable_parameters": self.trainable_parameters,
            "features": dict(self.features),
            "subspaces": list(self.subspaces),
        }
