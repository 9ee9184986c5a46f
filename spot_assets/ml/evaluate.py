"""`spot evaluate`: how well a day's scores rank labeled attacks, as numbers an analyst can trust.

Labels join the day's scored events one to one: by Zeek ``uid`` when both carry it, else by capture
file name and record number (the provenance every decoded row keeps), else by the event's own keys
(time, addresses, ports, names). Events without a label and labels without a scored event are
counted and reported, never silently dropped.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc

from resources.lake import LakeResource
from spot_assets.ingest import manifest
from spot_assets.datatypes import DATA_TYPES
from spot_assets.detect.priority import cover
from spot_assets.ml.metrics import detection_report, roc_auc


def _with_file_names(lake: LakeResource, data_type: str, day: dt.date, scores: pa.Table) -> pa.Table:
    names = {}
    for d in (day - dt.timedelta(days=1), day):  # a capture may start the day before and run past midnight
        names |= {e.file_id: e.name for e in manifest.entries(lake, data_type, d)}
    ids = pa.array(list(names), pa.string())
    file = pc.take(pa.array(list(names.values()), pa.string()), pc.index_in(scores["source_file"], value_set=ids))
    return scores.append_column("file", file)


def join_keys(data_type: str, scores: pa.Table, labels: pa.Table) -> list[str]:
    if "uid" in labels.column_names and pc.any(pc.is_valid(scores["uid"])).as_py():
        return ["uid"]
    if {"file", "record"} <= set(labels.column_names):
        return ["file", "record"]
    event_keys = DATA_TYPES[data_type].event_keys
    keys = [k for k in event_keys if k in labels.column_names]
    if not keys:
        raise ValueError(f"the labels share no key with {data_type} events "
                         f"(uid; file and record; or {', '.join(event_keys)})")
    return keys


def aligned(lake: LakeResource, data_type: str, day: dt.date, labels: pa.Table, column: pa.Field,
            extra: list[pa.Field] = ()) -> tuple[pa.Table, pa.Table, list[str]]:
    """The day's scores (with capture file names), the labels' join keys, ``column`` and ``extra``
    cast to the scores' types, and those keys; labels must be unique on them."""
    scores = _with_file_names(lake, data_type, day, lake.read_day(DATA_TYPES[data_type].table("scores"), day))
    keys = join_keys(data_type, scores, labels)
    labels = labels.select([*keys, column.name, *(f.name for f in extra)]).cast(
        pa.schema([scores.schema.field(k) for k in keys] + [column, *extra]))
    if labels.group_by(keys).aggregate([]).num_rows != labels.num_rows:
        raise ValueError(f"the labels are not unique on {', '.join(keys)}")
    return scores, labels, keys


def evaluate(lake: LakeResource, data_type: str, day: dt.date, labels: pa.Table) -> dict:
    """Spot's LDA order (the top-level keys), and where the day has them the fused priority list
    (``priority``), each detector's own list (``detectors``) and the AUC of each labeled scenario
    (``scenarios``). Every order is judged on the same events: the day's scored events that have a label.
    """
    if "label" not in labels.column_names:
        raise ValueError("the labels need a `label` column (1 attack, 0 benign)")
    scenario = "scenario" in labels.column_names
    extra = [pa.field("scenario", pa.string())] if scenario else []
    scores, labels, keys = aligned(lake, data_type, day, labels, pa.field("label", pa.int64()), extra)
    spec = DATA_TYPES[data_type]
    sources = sorted({*keys, "score", *(c for c in spec.entity_sources if c in scores.column_names)})
    joined = scores.select(sources).join(labels, keys, join_type="inner").to_pandas()
    label = joined["label"].to_numpy()
    report = {
        "type": data_type, "date": day.isoformat(), "joined_on": keys,
        "scored_events": scores.num_rows, "labels": labels.num_rows,
        "scored_without_label": scores.num_rows - len(joined),
        "labels_without_score": labels.num_rows - len(joined),
        **detection_report(joined["score"].to_numpy(), label),
    }
    orders = {"lda": joined["score"].to_numpy()}
    try:
        prio = lake.read_day(spec.table("priority"), day).to_pandas()
        found = lake.read_day(spec.table("findings"), day).to_pandas()
    except FileNotFoundError:
        prio = None
    if prio is not None:
        orders["priority"] = cover(spec, joined, prio)
        report["priority"] = detection_report(orders["priority"], label)
        report["priority_rows"] = len(prio)
        report["detectors"] = {}
        for name in sorted(found["detector"].unique()):
            own = found[found["detector"] == name].sort_values("score", ascending=False, kind="stable")
            own = own.assign(rank=range(1, len(own) + 1))
            report["detectors"][name] = detection_report(cover(spec, joined, own), label)
    if scenario:
        benign = label == 0
        report["scenarios"] = {
            name: {order: roc_auc(values[mask | benign], label[mask | benign]) for order, values in orders.items()}
            for name in sorted(joined["scenario"].dropna().unique())
            for mask in [(joined["scenario"] == name).to_numpy()]}
    return report

