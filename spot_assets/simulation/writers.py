"""Capture files of a simulated day, rotated hourly as sensors write them, and placed atomically.

* dns: ``dns-YYYYMMDD-HH00.pcap``, every query and its response (full frames, UDP over IPv4),
  each lookup in the file of the hour its query left in.
* proxy: Blue Coat ELFF ``proxy-YYYYMMDD-HH00.log`` with Spot's 27 ``#Fields:`` (the layout of
  Spot's ``bcreportermain``), or Squid's native ``access-YYYYMMDD-HH00.log``.
* flow: nfpcapd's own ``nfcapd.YYYYMMDDhhmm`` files (see `flows`).

Every file is written under a hidden temporary name in its folder and renamed when complete, since
the ingest's sensors watch these folders. Each writer also returns where each event landed (file
name and 1-based packet or line number), for the labels.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spot_assets.simulation import pcap
from spot_assets.simulation.dns import MessageBook
from spot_assets.simulation.network import ip_strings

HOUR_MS = 3_600_000
ELFF_FIELDS = ("date time time-taken c-ip cs-username cs-auth-group x-exception-id sc-filter-result cs-categories "
               "cs(Referer) sc-status s-action cs-method rs(Content-Type) cs-uri-scheme cs-host cs-uri-port "
               "cs-uri-path cs-uri-query cs-uri-extension cs(User-Agent) s-ip sc-bytes cs-bytes x-virus-id "
               "x-bluecoat-application-name x-bluecoat-application-operation")
PROXY_FORMATS = ("elff", "squid")


def write_atomic(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.part")
    temporary.write_bytes(data)
    os.replace(temporary, path)
    return path


def move_into(files: list[Path], folder: Path) -> list[Path]:
    """Rename finished files into ``folder`` (same file system: each appears whole, at once)."""
    folder.mkdir(parents=True, exist_ok=True)
    moved = []
    for f in files:
        os.replace(f, folder / f.name)
        moved.append(folder / f.name)
    return moved


def _hourly(ts_ms: np.ndarray, day: dt.date):
    """Each hour of the day that has events, with their indices: captures rotate hourly."""
    start = int(dt.datetime.combine(day, dt.time(), dt.timezone.utc).timestamp() * 1000)
    hour = np.clip((ts_ms - start) // HOUR_MS, 0, 23)
    for h in np.unique(hour):
        yield int(h), np.flatnonzero(hour == h)


def dns_pcaps(lookups: pa.Table, book: MessageBook, messages: np.ndarray, qids: np.ndarray, folder: Path,
              day: dt.date) -> tuple[list[Path], np.ndarray, np.ndarray]:
    """Hourly DNS pcaps; returns the files and, per lookup, its file name and the response's packet number."""
    ts = lookups["ts_ms"].to_numpy()
    delay = lookups["delay_ms"].to_numpy()
    client, resolver = lookups["client"].to_numpy(), lookups["resolver"].to_numpy()
    cport = lookups["cport"].to_numpy()
    file_of = np.empty(len(ts), dtype=object)
    record = np.zeros(len(ts), np.int64)
    files = []
    for h, idx in _hourly(ts, day):
        n = len(idx)
        response = np.repeat([False, True], n)
        which = np.concatenate([idx, idx])
        when = np.concatenate([ts[idx], ts[idx] + delay[idx]]) * 1000
        order = np.argsort(when, kind="stable")
        response, which, when = response[order], which[order], when[order]
        payloads = [(book.responses if r else book.queries)[m] for r, m in zip(response.tolist(), messages[which].tolist())]
        body = pcap.udp_packets(
            when, np.where(response, resolver[which], client[which]), np.where(response, client[which], resolver[which]),
            np.where(response, 53, cport[which]), np.where(response, cport[which], 53), payloads, head=qids[which])
        name = f"dns-{day:%Y%m%d}-{h:02d}00.pcap"
        header = io.BytesIO()
        pcap.write_header(header)
        files.append(write_atomic(folder / name, header.getvalue() + body))
        answered = np.flatnonzero(response)
        file_of[which[answered]] = name
        record[which[answered]] = answered + 1
    return files, file_of, record


def _dash(values) -> pa.Array:
    values = pc.fill_null(values, "")
    return pc.if_else(pc.equal(values, ""), pa.scalar("-"), values)


def _quoted(values) -> pa.Array:
    """A double-quoted ELFF value; a quote inside is doubled (W3C extended log format)."""
    values = pc.fill_null(values, "")
    inner = pc.replace_substring(values, '"', '""')
    return pc.if_else(pc.equal(values, ""), pa.scalar("-"), pc.binary_join_element_wise('"', inner, '"', ""))


def _text(values) -> pa.Array:
    return pc.cast(values, pa.string())


def elff_lines(r: pa.Table, proxy_ip: int) -> pa.Array:
    seconds = pa.array(r["ts_ms"].to_numpy() // 1000, pa.timestamp("s", tz="UTC"))
    fields = [
        pc.strftime(seconds, "%Y-%m-%d"), pc.strftime(seconds, "%H:%M:%S"), _text(r["time_taken"]),
        ip_strings(r["client"].to_numpy()), _dash(r["username"]), pa.scalar("-"), pa.scalar("-"), _dash(r["filter"]),
        _quoted(r["category"]), _dash(r["referer"]), _text(r["status"]), _dash(r["action"]), _dash(r["method"]),
        _dash(r["ctype"]), _dash(r["scheme"]), _dash(r["host"]), _text(r["port"]), _dash(r["path"]), _dash(r["query"]),
        _dash(r["extension"]), _quoted(r["agent"]), pa.scalar(ip_strings([proxy_ip])[0].as_py()),
        _text(r["sc_bytes"]), _text(r["cs_bytes"]), pa.scalar("-"), pa.scalar("-"), pa.scalar("-"),
    ]
    return pc.binary_join_element_wise(*fields, " ")


def squid_lines(r: pa.Table) -> pa.Array:
    ts = r["ts_ms"].to_numpy()
    stamp = pc.binary_join_element_wise(_text(pa.array(ts // 1000)), pc.utf8_lpad(_text(pa.array(ts % 1000)), 3, "0"), ".")
    port = r["port"].to_numpy()
    default = (port == 443) & pc.equal(r["scheme"], "https").to_numpy() | (port == 80) & pc.equal(r["scheme"], "http").to_numpy()
    shown_port = pc.if_else(pa.array(default), pa.scalar(""), pc.binary_join_element_wise(":", _text(r["port"]), ""))
    url = pc.binary_join_element_wise(r["scheme"], "://", r["host"], shown_port, r["path"], r["query"], "")
    action = pc.replace_substring(r["action"], "TCP_NC_MISS", "TCP_MISS")
    fields = [
        stamp, pc.utf8_lpad(_text(r["time_taken"]), 6, " "), ip_strings(r["client"].to_numpy()),
        pc.binary_join_element_wise(action, pc.utf8_lpad(_text(r["status"]), 3, "0"), "/"), _text(r["sc_bytes"]),
        r["method"], url, _dash(r["username"]),
        pc.binary_join_element_wise(pa.scalar("HIER_DIRECT"), ip_strings(r["server"].to_numpy()), "/"), _dash(r["ctype"]),
    ]
    return pc.binary_join_element_wise(*fields, " ")


def proxy_logs(requests: pa.Table, folder: Path, day: dt.date, proxy_ip: int, fmt: str = "elff"
               ) -> tuple[list[Path], np.ndarray, np.ndarray]:
    """Hourly proxy logs of requests (in time order); returns the files and each request's file and line."""
    if fmt not in PROXY_FORMATS:
        raise ValueError(f"proxy format {fmt!r}: expected one of {', '.join(PROXY_FORMATS)}")
    lines = elff_lines(requests, proxy_ip) if fmt == "elff" else squid_lines(requests)
    ts = requests["ts_ms"].to_numpy()
    file_of = np.empty(len(ts), dtype=object)
    record = np.zeros(len(ts), np.int64)
    files = []
    for h, idx in _hourly(ts, day):
        if fmt == "elff":
            name = f"proxy-{day:%Y%m%d}-{h:02d}00.log"
            header = ["#Software: SGOS 7.3.16.1", "#Version: 1.0", f"#Start-Date: {day} {h:02d}:00:00",
                      f"#Date: {day} {h:02d}:00:00", f"#Fields: {ELFF_FIELDS}"]
        else:
            name, header = f"access-{day:%Y%m%d}-{h:02d}00.log", []
        body = lines.take(pa.array(idx)).to_pylist()
        files.append(write_atomic(folder / name, ("\n".join(header + body) + "\n").encode()))
        file_of[idx] = name
        record[idx] = len(header) + np.arange(1, len(idx) + 1)
    return files, file_of, record
