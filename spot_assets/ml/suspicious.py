"""Which scored events become ``<type>_suspicious`` (spec §3.1): the events scoring at most TOL and
above -1 (a -1 is a word that could not be built, never suspicious), the lowest first, the top
MAXRESULTS of them.

Ties are broken by event time, then capture file and record, so the list is the same whichever
engine made it and however the scores were split into files.
"""

from __future__ import annotations

import pyarrow as pa

ORDER = ("score", "ts", "source_file", "record")


def listed(score, tol: float):
    """Whether an event with ``score`` may be listed: for a numpy array of scores and a Spark column alike."""
    return (score <= tol) & (score > -1)


def top(scores: pa.Table, tol: float, max_results: int) -> pa.Table:
    """The suspicious events of a day's scores, in order (``max_results`` <= 0: all of them)."""
    kept = scores.filter(pa.array(listed(scores["score"].to_numpy(), tol), pa.bool_()))
    ordered = kept.sort_by([(column, "ascending") for column in ORDER])
    return ordered.slice(0, max_results) if max_results > 0 else ordered


def spark_top(scores, tol: float, max_results: int) -> pa.Table:
    """``top`` of a Spark DataFrame of scores, ordered and cut on Spark (only the list reaches the driver)."""
    ordered = scores.where(listed(scores["score"], tol)).orderBy(*ORDER)
    return (ordered.limit(max_results) if max_results > 0 else ordered).toArrow()

