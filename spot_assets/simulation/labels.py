"""The labels of a simulated day: one row per event the captures hold, with the keys it joins on.

One Parquet file per day and data type (``<labels>/<type>/<date>.parquet``), never in a landing
folder. Column names are the decoded tables' own, so a label joins its event one to one:

* flow: ``ts`` (first packet, ms), ``sip``, ``dip``, ``sport``, ``dport``, ``proto`` (nfdump's name):
  unique within a day by construction (`flows`). ``ipkt``, ``ibyt``, ``tdur`` (s) as generated.
* dns: ``file`` and ``record`` (the response's packet number; decoded rows are responses), or
  ``ts`` (the response, ms), ``ip_dst`` (the client), ``dns_qry_name``, ``dns_qry_type``.
* proxy: ``file`` and ``record`` (the physical line number, headers counted), or ``ts`` (seconds
  in ELFF, ms in Squid), ``clientip``, ``host``, ``uripath``, ``uriquery`` (null when absent);
  also ``reqmethod``, ``respcode`` and ``useragent`` (null in Squid's format, which lacks it).

``scenario`` is the scenario id (null for background traffic) and ``label`` 1 for an attack's
event, 0 otherwise. The files are written with fixed Parquet settings: the same seed gives the
same bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from spot_assets.schemas import TS
from spot_assets.simulation.flows import Flows
from spot_assets.simulation.network import ip_strings

PROTOCOL_NAMES = {6: "TCP", 17: "UDP"}


def _common(scenario: pa.Array) -> dict[str, pa.Array]:
    return {"scenario": scenario, "label": pc.cast(pc.is_valid(scenario), pa.int8())}


def _ts(ms: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(ms, np.int64), TS)


def flow(f: Flows) -> pa.Table:
    names = np.array([PROTOCOL_NAMES.get(p, str(p)) for p in range(256)], dtype=object)
    return pa.table({
        "ts": _ts(f.ts_ms), "sip": ip_strings(f.sip), "dip": ip_strings(f.dip),
        "sport": pa.array(f.sport, pa.int32()), "dport": pa.array(f.dport, pa.int32()),
        "proto": pa.array(names[f.proto], pa.string()), "ipkt": pa.array(f.pkts, pa.int64()),
        "ibyt": pa.array(f.bytes, pa.int64()), "tdur": pa.array(f.dur_ms / 1000, pa.float64()),
        **_common(f.scenario),
    })


def dns(lookups: pa.Table, file_of: np.ndarray, record: np.ndarray) -> pa.Table:
    table = pa.table({
        "ts": _ts(lookups["ts_ms"].to_numpy() + lookups["delay_ms"].to_numpy()),
        "ip_dst": ip_strings(lookups["client"].to_numpy()), "ip_src": ip_strings(lookups["resolver"].to_numpy()),
        "dns_qry_name": lookups["qname"], "dns_qry_type": lookups["qtype"], "dns_qry_rcode": lookups["rcode"],
        "file": pa.array(file_of, pa.string()), "record": pa.array(record, pa.int64()),
        **_common(lookups["scenario"].combine_chunks()),
    })
    return table.sort_by([("file", "ascending"), ("record", "ascending")])


def proxy(requests: pa.Table, file_of: np.ndarray, record: np.ndarray, fmt: str) -> pa.Table:
    """ELFF logs whole seconds and the user agent; Squid's native format milliseconds and no agent."""
    ts = requests["ts_ms"].to_numpy()
    elff = fmt == "elff"
    absent = lambda c: pc.if_else(pc.equal(requests[c], ""), pa.scalar(None, pa.string()), requests[c])  # noqa: E731
    table = pa.table({
        "ts": _ts(ts // 1000 * 1000 if elff else ts), "clientip": ip_strings(requests["client"].to_numpy()),
        "host": requests["host"], "uripath": absent("path"), "uriquery": absent("query"),
        "reqmethod": requests["method"], "respcode": pc.cast(requests["status"], pa.string()),
        "useragent": requests["agent"] if elff else pa.nulls(requests.num_rows, pa.string()), "file": pa.array(file_of, pa.string()), "record": pa.array(record, pa.int64()),
        **_common(requests["scenario"].combine_chunks()),
    })
    return table.sort_by([("file", "ascending"), ("record", "ascending")])


def write(table: pa.Table, path: Path) -> Path:
    """Deterministic Parquet: fixed row groups, compression and dictionary settings; written then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.part")
    pq.write_table(table, temporary, compression="zstd", compression_level=3, row_group_size=1 << 20,
                   use_dictionary=True,
                   write_statistics=True, store_schema=True)
    temporary.replace(path)
    return path
