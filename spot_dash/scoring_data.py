"""What one press of Score means in Spot's LDA order (spec §5.2, §4.6): the ratings a choice of key
values and a quick-scoring value make, how many rows of the list they select, and the values the key
boxes offer. The keys are the type's rating keys (``DataType.rating_keys``)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc

from resources.store import Rating
from spot_assets.datatypes import DATA_TYPES
from spot_dash.inputs import Invalid, clean_text, parse_value
from spot_dash.suspicious_data import scored_mask


@dataclasses.dataclass(frozen=True)
class Criterion:
    selector: dict
    severity: int


def criteria(data_type: str, chosen: dict, quick: str | None, severity: int) -> list[Criterion]:
    """The chosen key values ("all" = unset); a quick value gives one rating per quick key, in place of
    the chosen value of that key (a flow IP as source and as destination; a DNS name; a proxy URI)."""
    if severity not in (1, 2, 3):
        raise Invalid("a rating is 1, 2 or 3")
    spec = DATA_TYPES[data_type]
    selector = {}
    for key, value in chosen.items():
        if key not in spec.rating_keys:
            raise Invalid(f"{data_type} is scored by {', '.join(spec.rating_keys)}")
        if value in (None, "", "all"):
            continue
        selector[key] = parse_value(data_type, key, value)
    quick = clean_text(quick, "quick scoring value")
    if quick:
        selectors = [{**selector, key: parse_value(data_type, key, quick)} for key in spec.quick_keys]
    else:
        selectors = [selector]
    if not selectors[0]:
        raise Invalid("choose at least one value to score (or type one in quick scoring)")
    return [Criterion(s, severity) for s in selectors]


def matching_rows(table: pa.Table, selectors: list[dict]) -> int:
    ratings = [Rating("", dt.date.min, s, 0, "", dt.datetime.min) for s in selectors]
    return int(scored_mask(table, ratings).sum())


def key_options(table: pa.Table, data_type: str) -> dict[str, list]:
    """The distinct values of each key column in the current list, for the scoring combo boxes."""
    return {k: sorted(v for v in pc.unique(table[k]).to_pylist() if v is not None)
            for k in DATA_TYPES[data_type].rating_keys}
