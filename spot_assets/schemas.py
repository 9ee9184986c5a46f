"""The one definition of every table schema the lake holds.

Decoded tables keep the columns of Spot's Hive tables (spec §2.3) in Spot's order, so exports and
SQL written against Spot still read them, and add three things Spot lacked:

* ``ts``: the event time as a UTC timestamp with milliseconds. Spot's string and epoch-second
  columns are derived from it, and it decides the ``y/m/d/h`` partition of the row.
* provenance: ``source_file`` (the raw file's id), ``record`` (1-based line or packet number in that
  file) and ``uid`` (Zeek's connection uid, when the input came from Zeek), so that any row, score
  or label can be traced back to the byte range it came from.
"""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("ms", tz="UTC")

PROVENANCE = [
    pa.field("source_file", pa.string(), nullable=False),
    pa.field("record", pa.int64(), nullable=False),
    pa.field("uid", pa.string()),
]

FLOW_EVENTS = pa.schema(
    [
        pa.field("ts", TS, nullable=False),
        ("treceived", pa.string()),
        ("unix_tstamp", pa.int64()),
        ("tryear", pa.int32()),
        ("trmonth", pa.int32()),
        ("trday", pa.int32()),
        ("trhour", pa.int32()),
        ("trminute", pa.int32()),
        ("trsec", pa.int32()),
        ("tdur", pa.float32()),
        ("sip", pa.string()),
        ("dip", pa.string()),
        ("sport", pa.int32()),
        ("dport", pa.int32()),
        ("proto", pa.string()),
        ("flag", pa.string()),
        ("fwd", pa.int32()),
        ("stos", pa.int32()),
        ("ipkt", pa.int64()),
        ("ibyt", pa.int64()),
        ("opkt", pa.int64()),
        ("obyt", pa.int64()),
        ("input", pa.int32()),
        ("output", pa.int32()),
        ("sas", pa.int64()),  # AS numbers are 32-bit unsigned (RFC 6793): 4200000000+ is private use
        ("das", pa.int64()),
        ("dtos", pa.int32()),
        ("dir", pa.int32()),
        ("rip", pa.string()),
        *PROVENANCE,
    ]
)

DNS_EVENTS = pa.schema(
    [
        pa.field("ts", TS, nullable=False),
        ("frame_time", pa.string()),
        ("unix_tstamp", pa.int64()),
        ("frame_len", pa.int32()),
        ("ip_dst", pa.string()),
        ("ip_src", pa.string()),
        ("dns_qry_name", pa.string()),
        ("dns_qry_class", pa.string()),
        ("dns_qry_type", pa.int32()),
        ("dns_qry_rcode", pa.int32()),
        ("dns_a", pa.string()),
        *PROVENANCE,
    ]
)

PROXY_EVENTS = pa.schema(
    [
        pa.field("ts", TS, nullable=False),
        ("p_date", pa.string()),
        ("p_time", pa.string()),
        ("clientip", pa.string()),
        ("host", pa.string()),
        ("reqmethod", pa.string()),
        ("useragent", pa.string()),
        ("resconttype", pa.string()),
        ("duration", pa.int32()),
        ("username", pa.string()),
        ("authgroup", pa.string()),
        ("exceptionid", pa.string()),
        ("filterresult", pa.string()),
        ("webcat", pa.string()),
        ("referer", pa.string()),
        ("respcode", pa.string()),
        ("action", pa.string()),
        ("urischeme", pa.string()),
        ("uriport", pa.string()),
        ("uripath", pa.string()),
        ("uriquery", pa.string()),
        ("uriextension", pa.string()),
        ("serverip", pa.string()),
        ("scbytes", pa.int64()),
        ("csbytes", pa.int64()),
        ("virusid", pa.string()),
        ("bcappname", pa.string()),
        ("bcappoper", pa.string()),
        ("fulluri", pa.string()),
        *PROVENANCE,
    ]
)

REJECTS = pa.schema(
    [
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("file_name", pa.string(), nullable=False),
        pa.field("record", pa.int64(), nullable=False),
        ("raw", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
    ]
)

INGEST_SUMMARY = pa.schema(
    [
        pa.field("minute", TS, nullable=False),
        ("tdate", pa.string()),  # Spot's `YYYY-MM-DD HH:MM`
        pa.field("total", pa.int64(), nullable=False),
    ]
)


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Order, add (as nulls) and cast columns so a decoder's output is exactly ``schema``.

    A decoder names the columns its format has; every other column of Spot's schema is null, which
    is the documented fill rule for formats that lack a field.
    """
    n = table.num_rows
    columns = []
    for field in schema:
        if field.name in table.column_names:
            columns.append(table[field.name].cast(field.type))
        else:
            columns.append(pa.nulls(n, field.type))
    return pa.Table.from_arrays(columns, schema=schema)
