"""The suspicious grid and the details tables (AG Grid), and the rows they show.

``grid_rows`` keeps every column of a row (callbacks need them: scoring keys, score, context) and adds
display fields: the time as text, and for each IP or name its badge class and the hover text of its
reputation shield and geolocation globe. The icons themselves are drawn by the cell renderers in
``assets/dashAgGridComponentFunctions.js``; without reputation or geolocation columns they are absent.
"""

from __future__ import annotations

import datetime as dt
import math

import dash_ag_grid as dag
import pyarrow as pa
import pyarrow.compute as pc

from spot_assets.datatypes import DATA_TYPES
from spot_dash.context_data import internal_flags, parse_reputation
from spot_dash.suspicious_data import row_ids
from spot_dash.views import view

SUSPICIOUS = "suspicious-grid"
DETAILS = "details-grid"


def col(field: str, header: str, **more) -> dict:
    return {"field": field, "headerName": header, **more}


def num(field: str, header: str, **more) -> dict:
    return col(field, header, type="numericColumn", filter="agNumberColumnFilter",
               valueFormatter={"function": "spotNumber(params.value)"}, **more)


def ip_col(field: str, header: str, side: str | None = None) -> dict:
    return col(field, header, cellRenderer="IpCell", cellRendererParams={"side": side or field}, minWidth=185)


def score_col() -> dict:
    return col("score", "Score", type="numericColumn", filter="agNumberColumnFilter", sort="asc",
               valueFormatter={"function": "spotScore(params.value)"}, maxWidth=120)


def time_col() -> dict:
    return col("time", "Time (UTC)", minWidth=165, maxWidth=180, cellDataType="text")


def named(view_columns: set[str], field: str, header: str) -> dict:
    """The enrichment's readable name of a code (``dns_qry_type_name``) when present, else the code."""
    return col(f"{field}_name" if f"{field}_name" in view_columns else field, header, maxWidth=140)


def hour_span(time: str) -> str:
    """The UTC hour of a row's time text, as details titles name it."""
    hour = int(time[11:13])
    return f"{time[:10]} {hour:02d}:00-{hour + 1:02d}:00 UTC"


def column_defs(data_type: str, columns: set[str]) -> list[dict]:
    return view(data_type).columns(columns)


def priority_column_defs() -> list[dict]:
    """The priority order: what to read first and why (the reasons wrap, so every one of them shows)."""
    return [
        num("rank", "Rank", minWidth=92, maxWidth=100, sort="asc"),
        col("score", "Score", type="numericColumn", filter="agNumberColumnFilter", minWidth=75, maxWidth=90,
             valueFormatter={"function": "params.value == null ? '' : Number(params.value).toFixed(2)"}),
        col("entity", "Entity", minWidth=190, wrapText=True, autoHeight=True, cellClass="reasons-cell"),
        col("reasons", "Reasons", minWidth=240, flex=3, wrapText=True, autoHeight=True, cellClass="reasons-cell"),
        col("detectors", "Detectors", minWidth=110, maxWidth=180, wrapText=True, autoHeight=True,
             cellClass="reasons-cell"),
        num("events", "Events", minWidth=80, maxWidth=100),
    ]


def priority_rows(table: pa.Table) -> list[dict]:
    """The priority list as the grid takes it: the entity label is the row's id (one row per entity)."""
    rows = []
    for row in table.to_pylist():
        row = {k: _jsonable(v) for k, v in row.items()}
        row["_id"], row["detectors"] = row["entity"], ", ".join(row["detectors"] or [])
        rows.append(row)
    return rows


def _jsonable(value):
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _rep_text(services: list[tuple[str, str]]) -> str:
    return "Reputation: " + "; ".join(f"{s}: {label}" for s, label in services) if services else ""


def grid_rows(table: pa.Table, data_type: str) -> list[dict]:
    """Each address gets its badge, reputation and place from the enrichment's columns for it
    (``DataType.places``, ``internal``, ``reputation``), and a row of a type whose reputation is about a
    name or URI gets that one's badge."""
    spec = DATA_TYPES[data_type]
    ids = row_ids(table).to_pylist()
    times = [ts.strftime("%Y-%m-%d %H:%M:%S") if ts else "" for ts in table["ts"].to_pylist()]
    rows = [{k: _jsonable(v) for k, v in row.items()} for row in table.to_pylist()]
    reputation_of = {about: rep for rep, about in spec.reputation.items()}
    for ip_col_name, side in spec.places.items():
        internal = internal_flags(table, ip_col_name, spec.internal.get(ip_col_name))
        rep_col = reputation_of.get(ip_col_name)
        for row, flag in zip(rows, internal):
            level, services = parse_reputation(row.get(rep_col)) if rep_col else (-1, [])
            geo = " · ".join(x for x in (row.get(f"{side}_geoloc"), row.get(f"{side}_domain")) if x)
            row[f"{side}_badge"] = "internal" if flag else f"rep{level + 1}"
            row[f"{side}_rep_tip"] = "" if flag else _rep_text(services)
            row[f"{side}_geo_tip"] = "" if flag else (f"Location: {geo}" if geo else "")
    named_rep = [rep for rep, about in spec.reputation.items() if about not in spec.places]
    for row, row_id, time in zip(rows, ids, times):
        row["_id"], row["time"] = row_id, time
        for rep_col in named_rep:
            level, services = parse_reputation(row.get(rep_col))
            row["rep_badge"], row["rep_tip"] = f"rep{level + 1}", _rep_text(services)
    return rows


GRID_OPTIONS = {
    "rowSelection": {"mode": "singleRow", "checkboxes": False, "enableClickSelection": True},
    "animateRows": False,
    "tooltipShowDelay": 300,
    "rowHeight": 34,
    "headerHeight": 36,
    "floatingFiltersHeight": 34,
}


def suspicious_grid() -> dag.AgGrid:
    return dag.AgGrid(
        id=SUSPICIOUS, rowData=[], columnDefs=[], getRowId="params.data._id",
        defaultColDef={"sortable": True, "filter": True, "floatingFilter": True, "resizable": True,
                       "suppressHeaderMenuButton": True, "minWidth": 90, "flex": 1},
        dashGridOptions=GRID_OPTIONS, className="ag-theme-quartz spot-grid", style={"height": "100%"},
    )


DETAIL_HEADERS = {
    "ts": "Time (UTC)", "sip": "Source IP", "dip": "Destination IP", "sport": "Src port", "dport": "Dst port",
    "proto": "Protocol", "flag": "Flags", "stos": "ToS", "ibyt": "In bytes", "ipkt": "In pkts", "obyt": "Out bytes",
    "opkt": "Out pkts", "rip": "Router IP", "input": "In iface", "output": "Out iface", "frame_len": "Length",
    "ip_dst": "Client IP", "ip_src": "Server IP", "dns_qry_name": "Query", "dns_qry_class": "Class",
    "dns_qry_type": "Type", "dns_qry_rcode": "Rcode", "dns_a": "Answer", "clientip": "Client IP", "host": "Host",
    "webcat": "Web category", "respcode": "Response", "reqmethod": "Method", "useragent": "User agent",
    "resconttype": "MIME type", "referer": "Referer", "uriport": "URI port", "serverip": "Server IP",
    "scbytes": "Server bytes", "csbytes": "Client bytes", "fulluri": "Full URI",
}
_NUMERIC = {"sport", "dport", "stos", "ibyt", "ipkt", "obyt", "opkt", "input", "output", "frame_len", "scbytes",
            "csbytes", "dns_qry_type", "dns_qry_rcode"}


# Expanded-search columns (``search`` of spot_dash/views/<type>.py) beyond the events' own.
SEARCH_HEADERS = {
    **DETAIL_HEADERS, "peer": "Peer IP", "direction": "Class", "conns": "Connections", "in_conns": "To the IP",
    "out_conns": "From the IP", "dports": "Dst ports", "maxbytes": "Max bytes", "avgbytes": "Avg bytes",
    "bytes": "Total bytes", "maxpkts": "Max pkts", "avgpkts": "Avg pkts", "first_seen": "First seen (UTC)",
    "last_seen": "Last seen (UTC)", "total": "Queries", "requests": "Requests", "clients": "Clients",
    "duration": "Duration (ms)",
}


def details_grid(table: pa.Table) -> dag.AgGrid:
    return table_grid(DETAILS, table, DETAIL_HEADERS, _NUMERIC)


def table_grid(grid_id: str, table: pa.Table, headers: dict[str, str], numeric: set[str] | None = None) -> dag.AgGrid:
    """A read-only grid of a table: times as UTC text, numbers right-aligned (by default every column
    of a numeric type)."""
    if numeric is None:
        numeric = {f.name for f in table.schema if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)}
    times = {f.name for f in table.schema if pa.types.is_timestamp(f.type)}
    columns = [(num if c in numeric else col)(c, headers.get(c, c), tooltipField=c, minWidth=110,
                                                **({"cellDataType": "text"} if c in times else {}))
               for c in table.column_names]
    for c in times:
        table = table.set_column(table.column_names.index(c), c,
                                 pc.utf8_slice_codeunits(pc.strftime(table[c], "%Y-%m-%d %H:%M:%S"), 0, 19))
    rows = [{k: _jsonable(v) for k, v in row.items()} for row in table.to_pylist()]
    return dag.AgGrid(
        id=grid_id, rowData=rows, columnDefs=columns,
        defaultColDef={"sortable": True, "resizable": True, "filter": True},
        dashGridOptions={"animateRows": False, "rowHeight": 30, "headerHeight": 34, "tooltipShowDelay": 300},
        columnSize="autoSize", className="ag-theme-quartz spot-grid", style={"height": "100%"},
    )
