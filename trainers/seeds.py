"""The three seeds of a training run, which Zhang et al. 2020 (Deeper Insights, Table 1) vary one
at a time: weight initialisation ("different seeds"), architecture sampling and its fixed order
("different orders"), and data order with augmentation, dropout masks and channel shuffles.
Each defaults to the run's `--seed`; the warehouse records them beside the configuration, in
`run_seeds` (runs of one configuration differ only by seeds, which is what stability analyses
compare).
"""

from __future__ import annotations

from dataclasses import dataclass

from wsdb.base.errors import WsdbError

KINDS = ("init", "sampling", "data")
LIMIT = 2 ** 31


@dataclass(frozen=True)
class Seeds:
    init: int
    sampling: int
    data: int

    @classmethod
    def of(cls, seed: int, init: int | None = None, sampling: int | None = None, data: int | None = None) -> "Seeds":
        """`seed` for each one not given; each a whole number in [0, 2^31), what the generators
        take and the warehouse's `seed` column holds."""
        for name, value in (("seed", seed), ("init_seed", init), ("sampling_seed", sampling), ("data_seed", data)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < LIMIT):
                raise WsdbError(f"{name} must be a whole number in [0, 2^31), not {value!r}")
        return cls(*(seed if v is None else v for v in (init, sampling, data)))

    def row(self, supernet_id: str) -> dict:
        """The super-net's row of run_seeds."""
        return {"supernet_id": supernet_id, "init_seed": self.init, "sampling_seed": self.sampling,
                "data_seed": self.data}
