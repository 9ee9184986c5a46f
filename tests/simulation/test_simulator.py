"""The network-day simulator: captures counted by the real tools, labels joined to decoded events
(directly and after `spot ingest`), determinism, and each scenario measured from the decoded data."""

import argparse
import datetime as dt
import hashlib
import math
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from resources.lake import LakeResource
from resources.tools import Tools
from spot_assets.datatypes import DATA_TYPES
from spot_assets.ingest import formats
from spot_assets.simulation import activity, flows, scenarios
from spot_assets.simulation.pcap import tcp_frame, write_pcap
from spot_assets.simulation.simulator import Settings, Simulator
from spot_cli.ingest import cmd_ingest
from spot_cli.main import main

DAY = dt.date(2024, 7, 9)
FLOW_KEY = ["ts", "sip", "dip", "sport", "dport", "proto"]
# Every scenario, scaled down to a small day.
PARAMS = [
    "c2_beacon.period_s=600", "c2_beacon.jitter=0.1",
    "scan_vertical.last_port=300",
    "scan_horizontal.hosts=80",
    "exfil_bulk.total_mb=300", "exfil_bulk.connections=2", "exfil_bulk.hour=3",
    "dns_tunnel.queries=200", "dns_tunnel.payload_chars=90",
    "dga.names=100", "dga.resolved=3",
    "long_connection.sessions=2", "long_connection.duration_s=1800",
    "lateral_movement.targets=4", "lateral_movement.hour=2",
    "proxy_rare_ua.requests=12", "proxy_direct_ip.requests=8", "proxy_odd_content.requests=5",
    "proxy_upload.requests=3", "proxy_upload.size_mb=20",
]
SETTINGS = Settings(hosts=150, flows=6_000, seed=11,
                    scenarios=tuple(scenarios.configure(list(scenarios.SCENARIOS), PARAMS)))


def simulate(root: Path, settings: Settings = SETTINGS, day: dt.date = DAY):
    return Simulator(settings).day(day, root / "landing", root / "labels")


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    return simulate(tmp_path_factory.mktemp("day"))


@pytest.fixture(scope="module")
def labels(day):
    return {t: pq.read_table(path) for t, path in day.labels.items()}


@pytest.fixture(scope="module")
def decoded(day):
    """Each type's decoded events (our decoders), with the file each row came from."""
    tables = {}
    for data_type, files in day.files.items():
        parts = []
        for path in files:
            result = formats.decode_file(data_type, path, Tools())
            assert result.rejects.num_rows == 0, (path, result.rejects.to_pylist()[:2])
            parts.append(result.events.append_column("file", pa.array([path.name] * result.events.num_rows)))
        tables[data_type] = pa.concat_tables(parts)
    return tables


def labeled(decoded, labels, data_type):
    """Decoded events with their scenario, joined one to one on the type's label key."""
    key = FLOW_KEY if data_type == "flow" else ["file", "record"]
    return decoded[data_type].join(labels[data_type].select([*key, "scenario", "label"]), key)


def of(table, scenario):
    return table.filter(pc.equal(table["scenario"], scenario))


# ----- counts from the tools themselves


def test_nfcapd_files_hold_exactly_the_flows_generated(day, labels):
    flows_by_nfdump = 0
    for path in day.files["flow"]:
        info = subprocess.run(["nfdump", "-I", "-r", str(path)], capture_output=True, text=True, check=True).stdout
        flows_by_nfdump += int(next(line.split()[1] for line in info.splitlines() if line.startswith("Flows:")))
    assert flows_by_nfdump == SETTINGS.flows == day.events["flow"] == labels["flow"].num_rows
    assert {p.name[:15] for p in day.files["flow"]} == {f"nfcapd.{DAY:%Y%m%d}"}


def test_dns_pcaps_read_by_tshark_hold_every_query_and_response(day, labels, tmp_path):
    merged = tmp_path / "all.pcap"
    subprocess.run(["mergecap", "-w", str(merged), *map(str, day.files["dns"])], check=True)
    out = subprocess.run(["tshark", "-r", str(merged), "-T", "fields", "-e", "dns.flags.response"],
                         capture_output=True, text=True, check=True).stdout.split()
    assert Counter(out) == {"0": day.events["dns"], "1": day.events["dns"]}
    assert day.packets["dns"] == len(out) and labels["dns"].num_rows == day.events["dns"]


def test_elff_lines_parse(day, labels, decoded):
    lines = [line for path in day.files["proxy"] for line in path.read_text().splitlines()
             if line and not line.startswith("#")]
    assert len(lines) == day.events["proxy"] == labels["proxy"].num_rows == decoded["proxy"].num_rows
    assert all(line.count(" ") >= 26 for line in lines)


@pytest.mark.parametrize("data_type", ["flow", "dns", "proxy"])
def test_labels_join_one_to_one_with_decoded_events(decoded, labels, data_type):
    joined = labeled(decoded, labels, data_type)
    assert joined.num_rows == decoded[data_type].num_rows == labels[data_type].num_rows
    if data_type == "flow":
        ours = labels["flow"].sort_by([(k, "ascending") for k in FLOW_KEY])
        theirs = joined.sort_by([(k, "ascending") for k in FLOW_KEY])
        assert ours["ipkt"].equals(theirs["ipkt"]) and ours["ibyt"].equals(theirs["ibyt"])
    else:  # the natural keys (time, client, name) find the same events
        natural = {"dns": ["ts", "ip_dst", "dns_qry_name", "dns_qry_type"], "proxy": ["ts", "clientip", "host", "uripath"]}
        ours = labels[data_type].select(natural[data_type] + ["record"]).rename_columns(natural[data_type] + ["labeled"])
        again = decoded[data_type].join(ours, natural[data_type])
        assert again.num_rows >= labels[data_type].num_rows
        assert set(zip(again["record"].to_pylist(), again["labeled"].to_pylist())) >= {
            (r, r) for r in labels[data_type]["record"].to_pylist()}


def test_labels_mark_every_scenario_and_only_them(labels):
    seen = set()
    for table in labels.values():
        assert set(table["label"].to_pylist()) <= {0, 1}
        assert pc.all(pc.equal(pc.is_valid(table["scenario"]), pc.equal(table["label"], 1))).as_py()
        seen |= set(pc.drop_null(table["scenario"]).to_pylist())
    assert seen == set(scenarios.SCENARIOS)


def test_labels_join_after_spot_ingest(spark, spot_config, day, labels):
    for data_type in tuple(DATA_TYPES):  # what `spot ingest TYPE FILES...` runs
        args = argparse.Namespace(type=data_type, paths=[str(p) for p in day.files[data_type]], format=None)
        assert cmd_ingest(spot_config, args) == 0
    lake = LakeResource(root=spot_config.lake_root)
    for data_type in tuple(DATA_TYPES):
        events = lake.read_day(f"{data_type}_events", DAY, DATA_TYPES[data_type].events)
        ours = labels[data_type]
        if data_type != "flow":  # the lake names a raw file by the first 16 hex digits of its sha256
            ids = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()[:16] for p in day.files[data_type]}
            ours = ours.append_column("source_file", pa.array([ids[f] for f in ours["file"].to_pylist()]))
        key = FLOW_KEY if data_type == "flow" else ["source_file", "record"]
        joined = events.join(ours.select([*key, "label"]), key)
        assert events.num_rows == ours.num_rows == joined.num_rows
        assert pc.sum(joined["label"]).as_py() == pc.sum(ours["label"]).as_py() > 0


# ----- determinism


def test_same_seed_same_bytes_and_decoded_tables(tmp_path, day, decoded):
    again = simulate(tmp_path)
    for data_type, path in day.labels.items():
        assert path.read_bytes() == again.labels[data_type].read_bytes()
    for data_type in ("dns", "proxy"):
        assert [p.read_bytes() for p in day.files[data_type]] == [p.read_bytes() for p in again.files[data_type]]
    # nfcapd files stamp each record with nfpcapd's wall clock; the decoded tables are the same.
    replay = pa.concat_tables([formats.decode_file("flow", p, Tools()).events for p in again.files["flow"]])
    assert replay.equals(decoded["flow"].drop_columns(["file"]))


def test_another_seed_another_day(tmp_path, day):
    other = simulate(tmp_path, Settings(hosts=150, flows=6_000, seed=12, scenarios=SETTINGS.scenarios))
    assert other.labels["flow"].read_bytes() != day.labels["flow"].read_bytes()


def test_hosts_keep_their_habits_from_day_to_day():
    sim = Simulator(Settings(hosts=150, flows=20_000, seed=3))
    per_day = []
    for d in (DAY, DAY + dt.timedelta(days=1)):
        src = sim.activity(d).connections["src"].to_numpy()
        per_day.append(np.bincount(sim.org.host_of(src)[sim.org.host_of(src) >= 0], minlength=sim.org.size))
    assert np.corrcoef(*per_day)[0, 1] > 0.8


# ----- each scenario, measured from the decoded data


def test_c2_beacon_period_sizes_and_agent(decoded, labels):
    flows_ = of(labeled(decoded, labels, "flow"), "c2_beacon")
    calls = flows_.filter(pc.equal(flows_["dport"], 443)).sort_by("ts")
    gaps = np.diff(calls["ts"].cast(pa.int64()).to_numpy()) / 1000
    assert len(calls) == 144 and abs(np.median(gaps) - 600) <= 60
    assert gaps.min() >= 600 * (1 - 2 * 0.1) and gaps.max() <= 600 * (1 + 2 * 0.1)
    assert len(set(calls["ibyt"].to_pylist())) == 1 and len(set(calls["sip"].to_pylist())) == 1
    dns = of(labeled(decoded, labels, "dns"), "c2_beacon")
    assert dns.num_rows == 144 and set(dns["dns_qry_name"].to_pylist()) == {"api.cdn-telemetry-sync.com"}
    proxy = decoded["proxy"].filter(pc.equal(decoded["proxy"]["useragent"], scenarios.C2Beacon.agent))
    assert proxy.num_rows == 144 and set(proxy["clientip"].to_pylist()) == set(calls["sip"].to_pylist())


def test_vertical_scan_breadth(decoded, labels):
    probes = of(labeled(decoded, labels, "flow"), "scan_vertical")
    forward = probes.filter(pc.equal(probes["sport"], 54321))
    assert sorted(forward["dport"].to_pylist()) == list(range(1, 301))
    assert len(set(forward["sip"].to_pylist())) == 1 and len(set(forward["dip"].to_pylist())) == 1
    assert probes.num_rows == 600  # every probe answered: SYN-ACK (open) or RST (closed)


def test_horizontal_scan_breadth(decoded, labels):
    probes = of(labeled(decoded, labels, "flow"), "scan_horizontal")
    forward = probes.filter(pc.equal(probes["dport"], 445))
    assert len(set(forward["sip"].to_pylist())) == 1
    assert len(set(forward["dip"].to_pylist())) in (79, 80)  # the scanner's own address is skipped


def test_bulk_exfiltration_hour_and_size(decoded, labels):
    rows = of(labeled(decoded, labels, "flow"), "exfil_bulk")
    out = rows.filter(pc.equal(rows["dport"], 443))
    assert out.num_rows == 2
    assert set(pc.hour(out["ts"]).to_pylist()) == {3}
    assert pc.sum(out["ibyt"]).as_py() == 300_000_000


def test_dns_tunnel_names_types_and_entropy(decoded, labels):
    rows = of(labeled(decoded, labels, "dns"), "dns_tunnel")
    assert rows.num_rows == 200
    assert set(rows["dns_qry_type"].to_pylist()) <= {16, 10}
    subdomains = [n[: -len(".relay-sync.net")].replace(".", "") for n in rows["dns_qry_name"].to_pylist()]
    assert min(map(len, subdomains)) >= 90
    assert np.mean([_entropy(s) for s in subdomains]) > 4.0


def test_dga_burst_is_mostly_nxdomain(decoded, labels):
    rows = of(labeled(decoded, labels, "dns"), "dga")
    assert rows.num_rows == 100
    assert Counter(rows["dns_qry_rcode"].to_pylist()) == {3: 97, 0: 3}
    assert len(set(rows["ip_dst"].to_pylist())) == 1
    span = pc.max(rows["ts"]).as_py() - pc.min(rows["ts"]).as_py()
    assert span <= dt.timedelta(minutes=10)


def test_long_connections_last(decoded, labels):
    rows = of(labeled(decoded, labels, "flow"), "long_connection")
    forward = rows.filter(pc.equal(rows["dport"], 22))
    assert forward.num_rows == 2 and min(forward["tdur"].to_pylist()) >= 1_799


def test_lateral_movement_ports_and_hour(decoded, labels):
    rows = of(labeled(decoded, labels, "flow"), "lateral_movement")
    forward = rows.filter(pc.is_in(rows["dport"], pa.array([445, 3389, 5985], pa.int32())))
    assert forward.num_rows == 12 and len(set(forward["dip"].to_pylist())) == 4
    assert set(pc.hour(forward["ts"]).to_pylist()) <= {2}


def test_proxy_scenarios(decoded, labels):
    proxy = labeled(decoded, labels, "proxy")
    rare = of(proxy, "proxy_rare_ua")
    assert rare.num_rows == 12 and len(set(rare["clientip"].to_pylist())) == 1
    others = proxy.filter(pc.equal(proxy["useragent"], scenarios.ProxyRareAgent.agent))
    assert others.num_rows == 12
    direct = of(proxy, "proxy_direct_ip")
    assert direct.num_rows == 8 and all(h.replace(".", "").isdigit() for h in direct["host"].to_pylist())
    assert not set(direct["host"].to_pylist()) & set(decoded["dns"]["dns_qry_name"].to_pylist())
    odd = of(proxy, "proxy_odd_content")
    assert odd.num_rows == 5 and set(odd["resconttype"].to_pylist()) == {"application/x-dosexec"}
    upload = of(proxy, "proxy_upload")
    assert upload.num_rows == 3 and set(upload["reqmethod"].to_pylist()) == {"POST"}
    assert min(upload["csbytes"].to_pylist()) == 20_000_000


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())


# ----- the command line and the guards


def test_cli_writes_landing_folders_and_labels(tmp_path):
    out = tmp_path / "landing"
    assert main(["simulate", "--date", "2024-07-13", "--flows", "2000", "--hosts", "60", "--scenarios", "dga",
                     "--set", "dga.names=20", "--proxy-format", "squid", "--out", str(out), "--seed", "4"]) == 0
    assert {p.name for p in out.iterdir()} == {"flow", "dns", "proxy", "labels"}
    logs = sorted((out / "proxy").iterdir())
    assert logs and all(p.name.startswith("access-") for p in logs)
    rows = sum(formats.decode_file("proxy", p, Tools()).events.num_rows for p in logs)
    assert rows == pq.read_table(out / "labels" / "proxy" / "2024-07-13.parquet").num_rows
    assert not any(p.name.startswith(".") for p in out.rglob("*"))  # no temporary left behind


@pytest.mark.parametrize("argv", [["--set", "dga.bogus=1"], ["--scenarios", "nope"], ["--flows", "50"]])
def test_cli_refuses_bad_requests(tmp_path, argv):
    base = ["simulate", "--date", "2024-07-13", "--hosts", "60", "--scenarios", "dga", "--out", str(tmp_path)]
    assert main(base + argv) == 2


def test_nfpcapd_merges_a_reused_5_tuple_even_after_fin(tmp_path):
    """Why every flow of a day gets its own 5-tuple: nfpcapd 1.7.1 ends flows only by timeouts."""
    t0 = 1_720_483_200.0
    packets = [(t0 + i * 0.1, tcp_frame("10.0.0.2", "1.2.3.4", 40001, 443, flags=f)) for i, f in enumerate(["S", "A", "FA"])]
    packets += [(t0 + 1 + i * 0.1, tcp_frame("10.0.0.2", "1.2.3.4", 40001, 443, flags=f)) for i, f in enumerate(["S", "FA"])]
    write_pcap(tmp_path / "reuse.pcap", packets)
    nfcapd = flows.run_nfpcapd(tmp_path / "reuse.pcap", tmp_path / "out", flows.NODE_CACHE)
    out = subprocess.run(["nfdump", "-R", str(tmp_path / "out"), "-q", "-o", "fmt:%ipkt"], capture_output=True,
                         text=True, check=True).stdout.split()
    assert len(nfcapd) == 1 and out == ["5"]


def test_flows_that_nfpcapd_would_merge_are_refused():
    conns = activity.table({"ts_ms": [1_720_483_200_000, 1_720_483_260_000], "src": [1, 1], "dst": [2, 2], "sport": 5000,
                            "dport": 80, "proto": 6, "dur_ms": 10, "fwd_pkts": 3, "fwd_bytes": 300, "rev_pkts": 0,
                            "rev_bytes": 0, "rtt_ms": 1, "probe": 0}, activity.CONNECTIONS)
    act = activity.Activity(conns, activity.LOOKUPS.empty_table(), activity.REQUESTS.empty_table())
    with pytest.raises(RuntimeError, match="would merge"):
        flows.flows(act, np.zeros(0, np.int64), np.zeros(0, np.int64), 1_720_569_600_000)
