"""The one definition of a dispute hot spot: neighbours, window, p-value and FDR.

The hotspots page, ``gridmap export hotspots``, the Export page and any other view of hot
spots take their settings from :data:`DEFAULT`, so the same question gets the same answer
everywhere, and an export records which definition it used (:meth:`HotspotDefinition.label`,
:meth:`HotspotDefinition.properties`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.hotspots.disputes import disputes_per_grid
from geo.hotspots.gi import PValue, dispute_hotspots
from geo.hotspots.scan import poisson_scan
from geo.hotspots.weights import (
    GridWeights,
    IslandPolicy,
    grid_weights,
    knn_weights,
    to_metric_crs,
)

__all__ = ["DEFAULT", "HotspotDefinition"]


@dataclass(frozen=True)
class HotspotDefinition:
    """How hot spots are found.

    Attributes
    ----------
    contiguity : {"queen", "rook"}
        Grids sharing a boundary point (Queen) or an edge (Rook) are neighbours.
    distance_m : float or None
        Grids whose centroids lie within this many metres are neighbours too (a band added
        to contiguity; see :func:`geo.hotspots.grid_weights`). None: contiguity only.
    islands : {"nearest", "exclude"}
        What becomes of a grid that touches no other.
    island_k : int
        Nearest grids an island is linked to.
    window_days : int
        Days of disputes analysed, ending at :meth:`window_end`.
    p_value : {"exact", "normal", "permutation"}
        Which two-sided p-value classifies the grids.
    permutations : int
        Permutations for ``p_value="permutation"``.
    fdr : bool
        Benjamini-Hochberg False Discovery Rate correction at 90/95/99%.
    neighbours : {"contiguity", "knn"}
        Contiguity (plus the band), or each grid's ``k`` nearest grids (adaptive: the
        same number in town and countryside).
    k : int
        Nearest grids for ``neighbours="knn"``.
    measure : {"count", "rate", "eb_rate"}
        What is tested per grid: the count, or disputes per resident (raw or
        Empirical-Bayes smoothed; see :func:`geo.hotspots.dispute_hotspots`).
    scan_share : float
        The Poisson scan's largest circle, as a share of the residents
        (:func:`geo.hotspots.scan.poisson_scan`).
    scan_replicates : int
        Its Monte Carlo replicates.
    scan_alpha : float
        A scan cluster is shown as found at this p-value or below.

    """

    contiguity: str = "queen"
    distance_m: float | None = 800.0
    islands: IslandPolicy = "nearest"
    island_k: int = 1
    window_days: int = 90
    p_value: PValue = "exact"
    permutations: int = 999
    fdr: bool = True
    neighbours: str = "contiguity"
    k: int = 8
    measure: str = "count"
    scan_share: float = 0.05
    scan_replicates: int = 999
    scan_alpha: float = 0.05

    def __post_init__(self) -> None:
        if self.neighbours not in ("contiguity", "knn"):
            raise ValueError(f"neighbours must be 'contiguity' or 'knn', not {self.neighbours!r}")
        if self.measure not in ("count", "rate", "eb_rate"):
            raise ValueError(f"measure must be 'count', 'rate' or 'eb_rate', not {self.measure!r}")
        if self.contiguity not in ("queen", "rook"):
            raise ValueError(f"contiguity must be 'queen' or 'rook', not {self.contiguity!r}")
        if self.distance_m is not None and not self.distance_m > 0:
            raise ValueError(f"distance_m must be positive or None, not {self.distance_m}")
        if self.window_days < 1:
            raise ValueError(f"window_days must be at least 1, not {self.window_days}")

    def label(self) -> str:
        """Name the neighbours in short, e.g. ``queen+800m`` (what an export's ``weights`` says)."""
        if self.neighbours == "knn":
            return f"knn{self.k}"
        band = f"+{self.distance_m:.0f}m" if self.distance_m is not None else ""
        return f"{self.contiguity}{band}"

    def describe(self) -> str:
        """Describe it in one line for people: neighbours, window, p-value and FDR."""
        band = (f" plus grids within {self.distance_m:,.0f} m" if self.distance_m is not None
                else "")
        fdr = ", FDR-corrected" if self.fdr else ""
        return (f"Gi* with {self.contiguity.capitalize()} contiguity{band}, "
                f"{self.window_days} days, {self.p_value} p-values{fdr}")

    def describe_scan(self) -> str:
        """Describe the scan in one line: method, largest circle, replicates, window."""
        return (f"Kulldorff circular Poisson scan, expected from residents, circles up to "
                f"{self.scan_share:.0%} of them, {self.scan_replicates} Monte Carlo "
                f"replicates, {self.window_days} days; found at p ≤ {self.scan_alpha}")

    def weights(self, grids: gpd.GeoDataFrame, *, code_col: str = "code") -> GridWeights:
        """Build the neighbour weights of ``grids`` (once per grid set; reuse them)."""
        if self.neighbours == "knn":
            return knn_weights(grids, k=self.k, code_col=code_col)
        return grid_weights(grids, code_col=code_col, rook=self.contiguity == "rook",
                            distance_m=self.distance_m, islands=self.islands,
                            island_k=self.island_k)

    @staticmethod
    def window_end(now: datetime) -> datetime:
        """Return the end of a window ending now: the start of the next hour (naive UTC).

        A window then holds everything reported so far, and results computed from it keep
        for up to an hour (or until the data change).
        """
        return (pd.Timestamp(now).floor("h") + pd.Timedelta(hours=1)).to_pydatetime()

    def window(self, *, now: datetime | None = None, until: datetime | None = None
               ) -> tuple[datetime, datetime]:
        """Return ``[since, until)``: ``window_days`` ending at ``until``, else now's hour end."""
        if until is None:
            if now is None:
                raise ValueError("give now or until")
            until = self.window_end(now)
        return until - timedelta(days=self.window_days), until

    def hotspots(self, grids: gpd.GeoDataFrame, disputes: pd.Series | pd.DataFrame, *,
                 weights: GridWeights | None = None, since: datetime | None = None,
                 until: datetime | None = None) -> gpd.GeoDataFrame:
        """Run :func:`geo.hotspots.dispute_hotspots` with this definition.

        ``weights`` from :meth:`weights` may be passed to reuse them; ``since``/``until``
        filter request rows (per-grid counts are taken as already windowed).
        """
        return dispute_hotspots(grids, disputes, since=since, until=until,
                                weights=weights if weights is not None else self.weights(grids),
                                p_value=self.p_value, permutations=self.permutations,
                                fdr=self.fdr, measure=self.measure)  # type: ignore[arg-type]

    def scan(self, grids: gpd.GeoDataFrame, disputes: pd.Series | pd.DataFrame, *,
             since: datetime | None = None, until: datetime | None = None,
             population_col: str = "population") -> gpd.GeoDataFrame:
        """Run the circular Poisson scan with this definition; one row per cluster.

        Expected counts come from the grids' residents (a grid without a figure counts
        none). Rows, most likely first: ``cluster`` (1, 2, …), ``centre`` (grid code),
        ``grids``, ``codes`` (comma-separated), ``radius_m``, ``disputes``, ``expected``,
        ``relative_risk``, ``llr``, ``p_value``, ``found`` (p ≤ ``scan_alpha``) and the
        union of the member grids as the geometry, in the grids' CRS.
        """
        codes = pd.Index(grids["code"].astype(str))
        counts = disputes_per_grid(disputes, codes, since=since, until=until)
        population = pd.to_numeric(grids[population_col], errors="coerce").fillna(0.0)
        xy = shapely.get_coordinates(to_metric_crs(grids.geometry).centroid.values)
        result = poisson_scan(counts.to_numpy(dtype=float), population.to_numpy(dtype=float),
                              xy, max_share=self.scan_share, replicates=self.scan_replicates)
        polygons = np.asarray(grids.geometry.values, dtype=object)
        rows = [{
            "cluster": number, "centre": codes[cl.centre], "grids": len(cl.members),
            "codes": ",".join(codes[cl.members]), "radius_m": round(cl.radius_m),
            "disputes": int(cl.cases), "expected": round(cl.expected, 2),
            "relative_risk": round(cl.relative_risk, 2), "llr": round(cl.llr, 3),
            "p_value": cl.p_value, "found": cl.p_value <= self.scan_alpha,
            "geometry": shapely.union_all(polygons[cl.members]),
        } for number, cl in enumerate(result.clusters, start=1)]
        columns = ["cluster", "centre", "grids", "codes", "radius_m", "disputes", "expected",
                   "relative_risk", "llr", "p_value", "found", "geometry"]
        # "found" typed even with no row: an empty object column used as a mask would be
        # read as a list of columns, and the filtered frame would lose every column.
        frame = pd.DataFrame(rows, columns=columns).astype({"found": bool})
        return gpd.GeoDataFrame(frame, geometry="geometry", crs=grids.crs)

    def properties(self, since: datetime | None, until: datetime | None
                   ) -> dict[str, str | float | bool | datetime | None]:
        """Return what an export records of the definition and the window it used."""
        return {"weights": self.label(), "distance_m": self.distance_m,
                "p_value": self.p_value, "fdr": self.fdr, "measure": self.measure,
                "window_since": since,
                "window_until": until,
                "window_days": (None if since is None or until is None
                                else round((until - since) / timedelta(days=1), 2))}


#: The definition every view uses: Queen contiguity plus an 800 m band (on the demo it finds
#: all 4 planted dispute clusters, Queen alone 3), 90 days, exact p-values, FDR.
DEFAULT = HotspotDefinition()
