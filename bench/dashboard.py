"""Dashboard benchmark: the Suspicious page's data for a 1 M-event flow day.

    python bench/dashboard.py [--events 1000000] [--files 288]

Writes a flow day into a temporary lake as the ingest lays it out (hour folders, one part per
5-minute capture file) plus its 250-row suspicious list, and rates 20 selectors in a temporary
analyst store. Then times what the page computes when it opens (``spot_dash.suspicious_data.page_data``:
ratings, the list without scored rows, the network elements, the first row's details), cold (first
call in the process) and warm (median of 5), and the chord diagram of one IP (a node click).
Baseline, in the same run: ``pyarrow.parquet.read_table`` of the day's events. Goal: < 0.5 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from resources.lake import LakeResource  # noqa: E402
from resources.store import AnalystStore  # noqa: E402
from spot_assets import schemas  # noqa: E402
from spot_dash import data  # noqa: E402

DAY = dt.date(2024, 7, 8)
GOAL_SECONDS = 0.5


def _ips(rng, n: int, first_octet: int) -> pa.Array:
    """A pool of n addresses in first_octet.0.0.0/8 (events draw from it, as hosts repeat in a day)."""
    return pa.array([f"{first_octet}.{a}.{b}.{c}" for a, b, c in rng.integers(0, 256, (n, 3))])


def make_day(lake: LakeResource, events: int, files: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    internal, external = _ips(rng, 3000, 10), _ips(rng, 20000, 198)
    start = dt.datetime.combine(DAY, dt.time(), dt.timezone.utc).timestamp() * 1000
    ts = np.sort(rng.integers(0, 86_400_000, events)) + int(start)
    outbound = rng.random(events) < 0.5
    inside = internal.take(pa.array(rng.integers(0, len(internal), events)))
    outside = external.take(pa.array(rng.integers(0, len(external), events)))
    sip = pa.array(np.where(outbound, inside.to_numpy(zero_copy_only=False), outside.to_numpy(zero_copy_only=False)))
    dip = pa.array(np.where(outbound, outside.to_numpy(zero_copy_only=False), inside.to_numpy(zero_copy_only=False)))
    table = schemas.conform(pa.table({
        "ts": pa.array(ts, pa.int64()).cast(schemas.TS), "sip": sip, "dip": dip,
        "sport": rng.integers(1024, 65535, events).astype(np.int32), "dport": rng.choice([53, 80, 443, 22, 8080], events).astype(np.int32),
        "proto": pa.array(rng.choice(["TCP", "UDP"], events)), "ipkt": rng.integers(1, 500, events),
        "ibyt": rng.integers(40, 1_500_000, events), "opkt": rng.integers(1, 500, events), "obyt": rng.integers(40, 1_500_000, events),
        "source_file": pa.array(["f"] * events), "record": np.arange(1, events + 1),
    }), schemas.FLOW_EVENTS)
    bounds = np.linspace(0, events, files + 1).astype(int)
    for i in range(files):  # one part per capture file, under the hour of its rows
        part = table.slice(bounds[i], bounds[i + 1] - bounds[i])
        hours = np.asarray(part["ts"].cast(pa.int64()).to_numpy() - start) // 3_600_000
        for hour in np.unique(hours):
            lake.write_part("flow_events", DAY, f"file{i:04d}", part.filter(pa.array(hours == hour)), int(hour))
    chosen = table.take(pa.array(np.sort(rng.choice(events, 250, replace=False))))
    listed = chosen.select(list(FLOW.ml_columns)).append_column("src_word", pa.array(["w"] * 250)) \
        .append_column("dst_word", pa.array(["w"] * 250)).append_column("score", pa.array(np.sort(rng.random(250)) * 1e-4))
    lake.replace_day("flow_suspicious", DAY, listed)
    return listed


def timed(fn, repeat: int = 1) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--files", type=int, default=288, help="capture files in the day (288 = one per 5 minutes)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="spot-bench-dash-") as tmp:
        lake = LakeResource(root=f"{tmp}/lake")
        t0 = time.perf_counter()
        listed = make_day(lake, args.events, args.files)
        print(f"wrote {args.events:,} events in {len(lake.day_files('flow_events', DAY))} parts and 250 suspicious rows "
              f"in {time.perf_counter() - t0:.1f} s")
        store = AnalystStore(f"sqlite:///{tmp}/analyst.db")
        for row in listed.slice(0, 20).to_pylist():
            store.rate("flow", DAY, {"sip": row["sip"], "dport": row["dport"]}, 3, "bench")

        def page():
            return suspicious_data.page_data(lake, store.ratings("flow", [DAY]), "flow", DAY)

        cold, result = timed(page)
        warm, _ = timed(page, 5)
        ip = result.view.rows["sip"][0].as_py()
        chord, _ = timed(lambda: details_data.flow_chord(lake, DAY, ip), 3)
        baseline, events = timed(lambda: pq.read_table(lake.day_files("flow_events", DAY), filesystem=lake.fs), 3)
        print(f"page data: {result.view.rows.num_rows} rows ({result.view.scored} scored out), "
              f"{len(result.elements)} network elements, {result.first_details.num_rows} detail rows")
        print(f"  page data, cold     {cold:.3f} s")
        print(f"  page data, warm     {warm:.3f} s   (median of 5)")
        print(f"  chord of {ip:<15} {chord:.3f} s   (a node click)")
        print(f"  baseline read_table {baseline:.3f} s   ({events.num_rows:,} events)")
        print(f"  ratio page/baseline: cold {cold / baseline:.2f}, warm {warm / baseline:.2f}")
        ok = max(cold, warm) < GOAL_SECONDS
        print(f"goal < {GOAL_SECONDS} s: {'met' if ok else 'MISSED'}")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
