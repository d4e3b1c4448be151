"""The publications whose experiments wsdb reproduces, cited the one way wsdb cites them
(authors, year, title, identifier) in help, reports, plots and stored configuration."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Paper:
    short: str  # how text refers to it, e.g. "Pourchot et al. 2020"
    authors: str
    year: int
    title: str
    identifier: str | None = None

    def citation(self) -> str:
        """Authors year: title (identifier), without quotes (it is stored inside JSON too)."""
        tail = f" ({self.identifier})" if self.identifier else ""
        return f"{self.authors} {self.year}: {self.title}{tail}"


POURCHOT_2020 = Paper("Pourchot et al. 2020", "Pourchot, Ducarouge, Sigaud", 2020,
                      "To Share or Not To Share: An Extensive Appraisal of Weight-Sharing", "arXiv:2002.04289")
LI_2021 = Paper("Li et al. 2021, GAEA", "Li, Khodak, Balcan, Talwalkar", 2021,
                "Geometry-Aware Gradient Algorithms for Neural Architecture Search")
YU_2020 = Paper("Yu et al. 2020", "Yu, Ranftl, Salzmann", 2020,
                "How to Train Your Super-Net: An Analysis of Training Heuristics in Weight-Sharing NAS",
                "arXiv:2003.04276")
ZHANG_ZHANG_YANG_2020 = Paper("Zhang, Zhang, Yang 2020", "Zhang, Zhang, Yang", 2020,
                              "How Does Weight Sharing Help in Neural Architecture Search?")
ZHANG_2020_DEEPER = Paper("Zhang et al. 2020, Deeper Insights",
                          "Zhang, Lin, Jiang, Zhang, Wang, Xue, Zhang, Yang", 2020,
                          "Deeper Insights into Weight Sharing in Neural Architecture Search", "arXiv:2001.01431")
ZELA_2020 = Paper("Zela et al. 2020, NAS-Bench-1Shot1", "Zela, Siems, Hutter", 2020,
                 "NAS-Bench-1Shot1: Benchmarking and Dissecting One-shot Neural Architecture Search", "arXiv:2001.10422")

PAPERS = (POURCHOT_2020, LI_2021, YU_2020, ZHANG_ZHANG_YANG_2020, ZHANG_2020_DEEPER, ZELA_2020)
