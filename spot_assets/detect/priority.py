"""One priority list per type and day: findings, Spot's LDA rarity and threat intelligence, fused.

Every source says of an entity "this much, for this reason". An entity's fused score is the noisy-OR
of its sources, 1 − Π(1 − wᵢ·sᵢ): independent pieces of evidence add up, none can push a score past 1,
and a source's weight wᵢ says how far its word is to be trusted. Detectors weigh 1 (their score
already says how sure they are). Spot's LDA rarity weighs ``lda_weight`` (0.3 by default): measured on
labeled days it ranks attacks near chance for flow and DNS, so a rare event alone stays below any
detector finding of moderate strength, yet several weak signals on one entity still rise together.

LDA rows come from ``<type>_suspicious`` (the least probable events): an event's rarity is
1 − rank / scored events, so the first of a million is ~1 and the list's last is still high. Threat
intelligence (the local lists of ``[context] threat_intel``; reputation web services are asked only
for the suspicious rows in enrichment, not for every address of a day) scores by the list's level.

Analysts' feedback on findings applies here: a suppression (rating 3) removes the matching source
from the entities it covers until it expires, a raise (rating 1) adds an "analyst" source of strength
``raise_strength``. A feedback row covers an entity when each entity column it sets is equal.

An event takes the rank of the best-ranked row that covers it (`cover`); that is how the list is
evaluated against labeled events, and how an analyst would meet an event reading from the top.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa

from spot_assets.datatypes import DataType
from spot_assets.detect.priority_schema import priority_schema

LDA, INTEL, ANALYST = "lda", "intel", "analyst"
_NONE = "\0"  # a null entity column inside a group key


@dataclass(frozen=True)
class Weights:
    lda: float = 0.3
    detectors: dict[str, float] = field(default_factory=dict)  # detector name -> weight, default 1
    raise_strength: float = 0.5

    def of(self, source: str) -> float:
        if source == LDA:
            return self.lda
        return self.detectors.get(source, 1.0)


class Feedback(Protocol):
    """An analyst's word on an entity for one detector (``"*"``: every source): the store's `FindingFeedback`."""

    detector: str
    entity: dict  # entity column -> value; absent or None = any
    severity: int  # 1 raises, 3 suppresses
    analyst: str
    day: dt.date


# intel levels (oa/reputation: 1 low, 2 medium, 3 high) as strengths
INTEL_STRENGTH = {1: 0.3, 2: 0.6, 3: 1.0}


def lda_contributions(data_type: DataType, suspicious: pd.DataFrame, scored_events: int) -> pd.DataFrame:
    """One contribution per entity of the LDA suspicious list: its rarest event's rank as rarity."""
    if suspicious.empty or scored_events <= 0:
        return _empty_contributions(data_type)
    frame = data_type.with_entity(suspicious).reset_index(drop=True)
    frame["_rank"] = np.arange(len(frame))  # the list is ascending by score
    keys = list(data_type.entity_columns)
    grouped = frame.groupby(keys, dropna=False, sort=False).agg(
        lda_score=("score", "min"), _rank=("_rank", "min"), events=("score", "size")).reset_index()
    rarity = 1 - grouped["_rank"] / scored_events
    reasons = [f"rare under LDA: p = {p:.1e} (rank {r + 1:,} of {scored_events:,} events)"
               for p, r in zip(grouped["lda_score"], grouped["_rank"])]
    return grouped[keys].assign(source=LDA, strength=rarity.clip(0, 1), reason=reasons,
                                events=grouped["events"], lda_score=grouped["lda_score"])


def intel_contributions(data_type: DataType, listed: Iterable[tuple[str, str, int, str, int]]) -> pd.DataFrame:
    """Threat-intel hits as contributions: (entity column, value, level, "label from source", events)."""
    rows = [{column: value, "source": INTEL, "strength": INTEL_STRENGTH.get(level, 0.0),
             "reason": f"threat intel: {what}", "events": count}
            for column, value, level, what, count in listed if INTEL_STRENGTH.get(level, 0) > 0]
    if not rows:
        return _empty_contributions(data_type)
    frame = pd.DataFrame(rows)
    for column in data_type.entity_columns:
        if column not in frame:
            frame[column] = None
    return frame.assign(lda_score=np.nan)


def findings_contributions(findings: pd.DataFrame) -> pd.DataFrame:
    return findings.rename(columns={"detector": "source", "score": "strength"}).assign(lda_score=np.nan)


def covers(keys: dict, frame: pd.DataFrame) -> np.ndarray:
    """Which rows of ``frame`` a feedback's entity covers: each entity column it sets is equal."""
    mask = np.ones(len(frame), bool)
    for column, value in keys.items():
        if value is not None:
            mask &= (frame[column] == value).to_numpy()
    return mask


def fuse(data_type: DataType, day: dt.date, contributions: list[pd.DataFrame], feedback: Iterable[Feedback],
         weights: Weights) -> pa.Table:
    """The ranked priority list of a day (`priority_schema`)."""
    keys = list(data_type.entity_columns)
    parts = [c for c in contributions if not c.empty]
    schema = priority_schema(data_type)
    if not parts:
        return schema.empty_table()
    frame = pd.concat([p[[*keys, "source", "strength", "reason", "events", "lda_score"]] for p in parts],
                      ignore_index=True)
    frame = frame.astype({k: object for k in keys})
    frame[keys] = frame[keys].where(frame[keys].notna(), None)
    raised = pd.Series([""] * len(frame))
    for item in feedback:
        covered = covers(item.entity, frame)
        if item.severity == 3:
            frame = frame[~(covered & ((frame["source"] == item.detector) | (item.detector == "*")).to_numpy())]
            raised = raised[frame.index]
            frame, raised = frame.reset_index(drop=True), raised.reset_index(drop=True)
        elif item.severity == 1:
            raised[covered] = f"raised by {item.analyst} ({item.day.isoformat()})"
    if frame.empty:
        return schema.empty_table()
    frame["weighted"] = frame["strength"].astype(float) * frame["source"].map(weights.of).astype(float)
    frame["_key"] = frame[keys].astype(str).where(frame[keys].notna(), _NONE).agg("\x1f".join, axis=1)
    frame["_raised"] = raised.to_numpy()
    # one source speaks once per entity (its strongest finding), or its repeats would add up as if independent
    frame = frame.sort_values(["_key", "weighted"], ascending=[True, False], kind="stable")
    frame = frame.drop_duplicates(["_key", "source"], keep="first")
    rows = []
    for _, group in frame.groupby("_key", sort=False):
        first = group.iloc[0]
        sources = group["source"].tolist()
        reasons = group["reason"].tolist()
        survive = np.prod(1 - group["weighted"].to_numpy())
        note = next((r for r in group["_raised"] if r), None)
        if note:
            survive *= 1 - weights.raise_strength
            sources, reasons = [ANALYST, *sources], [note, *reasons]
        lda = group["lda_score"].min()
        rows.append({**{k: first[k] for k in keys}, "score": float(1 - survive), "reasons": "; ".join(reasons),
                     "detectors": list(dict.fromkeys(sources)), "lda_score": None if pd.isna(lda) else float(lda),
                     "events": int(group["events"].max()), "feedback": note})
    out = pd.DataFrame(rows)
    out["entity"] = [data_type.label({k: r[k] for k in keys}) for r in rows]
    out = out.sort_values(["score", "events", "entity"], ascending=[False, False, True], kind="stable")
    n = len(out)
    columns = {"day": pa.array([day] * n, pa.date32()), "rank": pa.array(np.arange(1, n + 1), pa.int32())}
    for f in schema:
        if f.name not in columns:
            values = out[f.name].tolist()
            columns[f.name] = pa.array([None if isinstance(v, float) and np.isnan(v) else v for v in values], f.type)
    return pa.Table.from_pydict(columns, schema=schema)


def cover(data_type: DataType, events: pd.DataFrame, priority: pd.DataFrame) -> np.ndarray:
    """Each event's best (lowest) rank among the priority rows that cover it; rows + 1 when none does.
    A row covers an event, and the event's reply where the type has replies (a flow row covers the
    answers of the conversation it names)."""
    best = _best_rank(data_type, data_type.with_entity(events), priority)
    if data_type.reply and set(data_type.reply.values()) <= set(events.columns):
        replies = events.assign(**{k: events[v] for k, v in data_type.reply.items()})
        best = np.minimum(best, _best_rank(data_type, data_type.with_entity(replies), priority))
    return best


def _best_rank(data_type: DataType, events: pd.DataFrame, priority: pd.DataFrame) -> np.ndarray:
    keys = list(data_type.entity_columns)
    frame = events[keys].reset_index(drop=True)
    best = np.full(len(frame), len(priority) + 1, dtype=np.int64)
    if priority.empty:
        return best
    frame = frame.apply(_as_text)
    rows = priority[[*keys, "rank"]].copy()
    rows[keys] = rows[keys].apply(_as_text)
    pattern = rows[keys].notna()
    for mask, group in rows.groupby([pattern[k] for k in keys], sort=False):
        on = [k for k, present in zip(keys, mask) if present]
        if not on:  # a row that covers every event
            best = np.minimum(best, int(group["rank"].min()))
            continue
        ranks = group.groupby(on)["rank"].min().rename("_best").reset_index()
        found = frame[on].merge(ranks, how="left", on=on)["_best"].to_numpy(dtype=float)
        best = np.where(np.isnan(found), best, np.minimum(best, np.nan_to_num(found)).astype(np.int64))
    return best


def _as_text(column: pd.Series) -> pd.Series:
    """Entity values compared as text: a port read back from Parquet with nulls arrives as a float."""
    if pd.api.types.is_float_dtype(column):
        return column.astype("Int64").astype("string")
    return column.astype("string")


def _empty_contributions(data_type: DataType) -> pd.DataFrame:
    return pd.DataFrame(columns=[*data_type.entity_columns, "source", "strength", "reason", "events", "lda_score"])
