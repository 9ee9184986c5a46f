"""Flow detectors on hand-built days whose truth is known by construction, next to benign look-alikes.

Golden numbers are counted from the construction (hosts probed, seconds connected, bytes sent) or computed
here with numpy from the documented rules (RITA's hour thresholds, Iglewicz & Hoaglin's modified z-score).
"""

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from spot_assets.datatypes import FLOW
from spot_assets.detect import flow
from spot_assets.detect.base import DetectContext, as_findings, run_all

DAY = dt.date(2024, 7, 8)
MIDNIGHT = pd.Timestamp(DAY, tz="UTC")
CTX = DetectContext(day=DAY)


def flows(seconds, sip, dip, dport, **columns) -> pd.DataFrame:
    """Flows at ``seconds`` after midnight; any column a scalar (broadcast) or one value per flow."""
    seconds = np.asarray(seconds, dtype=float)
    n = len(seconds)
    defaults = {"sport": 50_000, "proto": "TCP", "flag": "...AP.SF", "ipkt": 6, "ibyt": 800, "opkt": 0, "obyt": 0,
                "tdur": 0.5}
    ts = (MIDNIGHT + pd.to_timedelta(np.round(seconds * 1000), unit="ms")).astype("datetime64[ms, UTC]")
    data = {"sip": sip, "dip": dip, "dport": dport, **defaults, **columns}
    frame = pd.DataFrame({"ts": pd.Series(ts), **{k: np.broadcast_to(np.asarray(v, dtype=object if isinstance(v, str)
                                                                                else None), n)
                                                  if np.ndim(v) == 0 else np.asarray(v) for k, v in data.items()}})
    return frame.astype({"dport": "int32", "sport": "int32", "tdur": "float32"})


def day(*parts) -> pd.DataFrame:
    return pd.concat(parts, ignore_index=True).sort_values("ts", kind="stable").reset_index(drop=True)


def find(name, events, ctx=CTX, **params):
    detector = {d.name: d for d in flow.DETECTORS}[name]
    found = detector.find(events, detector.params(**params), ctx)
    as_findings(detector, DAY, found)  # every result fits the findings schema (scores in [0, 1])
    return found


def row(found, **keys):
    match = np.logical_and.reduce([found[k] == v for k, v in keys.items()])
    assert match.sum() == 1, f"expected one finding for {keys}, got {match.sum()}"
    return found[match].iloc[0]


# ----- beacon

def _c2_and_ntp(rng):
    beats = np.arange(60, 86_400, 300.0)
    beats = beats[rng.random(len(beats)) > 0.15]
    c2 = flows(beats + rng.uniform(-15, 15, len(beats)), "10.0.0.5", "45.77.10.7", 443,
               ibyt=420 + rng.integers(0, 8, len(beats)), obyt=0)
    pollers = [flows(np.arange(h * 7.0, 86_400, 1024.0), f"10.0.1.{h}", "162.159.200.123", 123, proto="UDP",
                     flag="......", ibyt=76) for h in range(1, 41)]  # 40 hosts, NTP every 1024 s
    updates = [flows(np.arange(h * 11.0, 86_400, 3600.0), f"10.0.1.{h}", "13.107.4.50", 443, ibyt=900)
               for h in range(1, 11)]  # 10 of them poll an update server hourly
    browsing = flows(9 * 3600 + np.cumsum(rng.exponential(15, 300)), "10.0.0.6", "151.101.1.9", 443,
                     ibyt=rng.lognormal(8, 1.5, 300).astype(int))
    return day(c2, *pollers, *updates, browsing)


def test_a_c2_beacon_ranks_first_and_shared_ntp_and_update_polling_do_not_rank_high():
    events = _c2_and_ntp(np.random.default_rng(1))
    found = find("beacon", events)
    c2 = row(found, sip="10.0.0.5", dip="45.77.10.7", dport=443)
    assert found.iloc[0]["sip"] == "10.0.0.5" and c2["score"] >= 0.5
    assert c2["events"] == (events["dip"] == "45.77.10.7").sum()
    # every internal source (42) polls NTP: prevalence 95 % is past RITA's 50 % → damped to nothing
    assert (found["dip"] != "162.159.200.123").all()
    # 10 of the day's 42 internal sources reach the update server: share 0.238, damped on the log scale
    # between RITA's 2 % (no damping) and 50 % (all of it)
    updates = found[found["dip"] == "13.107.4.50"]
    factor = math.log((10 / 42) / 0.5) / math.log(0.02 / 0.5)
    assert len(updates) == 10
    assert updates["evidence"].map(lambda e: e["prevalence_factor"]).to_numpy() == pytest.approx(factor)
    assert (updates["score"] <= factor + 1e-9).all() and updates["score"].max() < c2["score"] / 2
    assert "10 of 42 sources" in updates.iloc[0]["reason"]
    assert not (found["dip"] == "151.101.1.9").any()  # browsing is no rhythm


def test_a_destination_of_one_or_two_hosts_is_not_damped_whatever_the_share():
    # a one-host capture: every destination is reached by all (1 of 1) of the sources
    events = flows(np.arange(0, 86_400, 600.0), "10.0.0.5", "45.77.10.7", 443)
    c2 = row(find("beacon", events), sip="10.0.0.5")
    assert c2["evidence"]["prevalence_factor"] == 1 and c2["score"] == 1  # a perfect timer, undamped
    assert "shared" not in c2["reason"]


def test_pair_detectors_look_at_internal_hosts_calling_outside_as_rita_does():
    # a monitoring server polling a switch every 5 minutes, inside: a timer by design
    events = day(flows(np.arange(0, 86_400, 300.0), "10.0.0.2", "10.0.10.1", 161, proto="UDP", flag="......"),
                 flows(np.arange(0, 86_400, 300.0), "10.0.0.5", "45.77.10.7", 443))
    assert list(find("beacon", events)["dip"]) == ["45.77.10.7"]
    assert set(find("beacon", events, outbound_only=False)["dip"]) == {"45.77.10.7", "10.0.10.1"}


# ----- long connection

def test_long_connection_adds_back_cut_sessions_and_does_not_add_up_parallel_flows():
    events = day(
        # three 55-minute SSH sessions, 20 s apart: 3 × 3300 s = 9900 s connected
        flows([72_000, 75_320, 78_640], "10.0.0.7", "45.33.32.22", 22, tdur=3300.0),
        # one 5-hour session an exporter cut every 30 minutes: 10 back-to-back pieces
        flows(3600 + np.arange(10) * 1800.0, "10.0.0.8", "45.33.32.23", 443, tdur=1800.0),
        # eight parallel 40-minute downloads: durations sum to 5.3 h, but only 40 minutes connected
        flows(np.full(8, 36_000.0) + np.arange(8), "10.0.0.9", "45.33.32.24", 443, tdur=2400.0))
    found = find("long_connection", events)
    assert set(found["sip"]) == {"10.0.0.7", "10.0.0.8"}
    ssh, cut = row(found, sip="10.0.0.7"), row(found, sip="10.0.0.8")
    assert ssh["evidence"]["connected_s"] == pytest.approx(9900, abs=1e-3)
    assert ssh["evidence"]["longest_s"] == 3300 and ssh["events"] == 3
    assert cut["evidence"]["connected_s"] == pytest.approx(18_000, abs=1e-3)
    # RITA's scale: 1 h is the threshold (0.5), 12 h as sure as it gets (1), log-linear between
    assert ssh["score"] == pytest.approx(0.5 + 0.5 * math.log(2.75) / math.log(12))
    assert cut["score"] == pytest.approx(0.5 + 0.5 * math.log(5) / math.log(12))
    assert found.iloc[0]["sip"] == "10.0.0.8"
    assert "connected 2.8 h over 3 flows" in ssh["reason"]


# ----- strobe

def test_strobe_threshold_scales_with_the_hours_the_day_spans():
    # the day's data spans two hours: one connection a second is 7 200
    rng = np.random.default_rng(5)
    events = day(flows(np.sort(rng.uniform(0, 7200, 9000)), "10.0.0.3", "52.1.5.5", 8443),
                 flows(np.sort(rng.uniform(0, 7200, 7000)), "10.0.0.4", "52.1.5.5", 8443),
                 flows([0.0, 7200.0], "10.0.0.1", "52.1.5.6", 80))
    found = find("strobe", events)
    assert list(found["sip"]) == ["10.0.0.3"]
    assert found.iloc[0]["events"] == 9000
    assert found.iloc[0]["evidence"]["threshold"] == pytest.approx(7200)
    assert found.iloc[0]["score"] == pytest.approx(0.5 + 0.5 * math.log(9000 / 7200) / math.log(10))


# ----- scans

def _browsing(rng):
    """A client reaching 300 web servers, 5 of them dead: busy, not a scan."""
    servers = [f"151.101.{i // 200}.{i % 200}" for i in range(300)]
    ok = flows(rng.uniform(0, 86_400, 300), "10.0.0.6", servers, 443, flag="...AP.SF")
    dead = flows(rng.uniform(0, 86_400, 5), "10.0.0.6", servers[:5], 443, flag="......S.")
    return day(ok, dead)


def test_horizontal_scan_counts_unanswered_hosts_by_tcp_flags_when_no_replies_are_recorded():
    targets = [f"10.0.2.{i}" for i in range(1, 201)]
    answered = np.arange(200) < 20  # 20 Windows hosts complete the handshake, 180 never answer
    scan = flows(15 * 3600 + np.arange(200) / 50, "10.0.0.9", targets, 445,
                 flag=np.where(answered, "...AP.SF", "......S."))
    found = find("horizontal_scan", day(scan, _browsing(np.random.default_rng(2))))
    assert list(zip(found["sip"], found["dport"])) == [("10.0.0.9", 445)]
    hit = found.iloc[0]
    assert hit["evidence"]["targets"] == 200 and hit["evidence"]["failed_targets"] == 180
    assert hit["evidence"]["failed_share"] == pytest.approx(180 / 200)
    assert hit["score"] == pytest.approx((0.5 + 0.5 * math.log(180 / 25) / math.log(10)) * 0.9)
    assert "TCP flags only (no replies recorded this day)" in hit["reason"]
    assert "180 hosts never connected" in hit["reason"]


def test_unidirectional_reply_flows_tell_an_answered_udp_fan_out_from_a_udp_sweep():
    rng = np.random.default_rng(4)
    # the internal resolver asks 60 authoritative servers, each answering from port 53 to its port
    servers = [f"199.7.{i}.1" for i in range(60)]
    ports = rng.integers(1024, 65_535, 60)
    queries = flows(np.arange(60.0) * 60, "10.0.0.53", servers, 53, sport=ports, proto="UDP", flag="......")
    answers = flows(np.arange(60.0) * 60 + 0.05, servers, "10.0.0.53", ports, sport=53, proto="UDP", flag="......")
    # an SNMP sweep of 60 internal addresses: 3 devices answer
    devices = [f"10.0.3.{i}" for i in range(1, 61)]
    sweep = flows(7200 + np.arange(60.0), "10.0.0.9", devices, 161, sport=40_000 + np.arange(60), proto="UDP",
                  flag="......")
    replies = flows(7200.01 + np.arange(3.0), devices[:3], "10.0.0.9", 40_000 + np.arange(3), sport=161,
                    proto="UDP", flag="......")
    # and the resolver answering one client on 400 of its ports: replies, not a vertical scan
    lookups = flows(rng.uniform(0, 86_400, 400), "10.0.0.53", "10.0.0.6", rng.integers(1024, 65_535, 400),
                    sport=53, proto="UDP", flag="......")
    events = day(queries, answers, sweep, replies, lookups)
    found = find("horizontal_scan", events)
    assert list(zip(found["sip"], found["dport"])) == [("10.0.0.9", 161)]
    hit = found.iloc[0]
    assert hit["evidence"]["failed_targets"] == 57
    assert hit["evidence"]["failed_share"] == pytest.approx(57 / 60)
    assert "reply flows and TCP flags" in hit["reason"]
    assert find("vertical_scan", events).empty


def test_vertical_scan_with_reply_counters_counts_rejected_ports_as_failed():
    # Zeek-like bidirectional records: closed ports answer RST (REJ: a reply, but no handshake)
    ports = np.arange(1, 1025)
    is_open = np.isin(ports, [22, 80, 443])
    scan = flows(14 * 3600 + np.arange(1024) / 200, "10.0.0.9", "10.0.3.3", ports, sport=54_321,
                 flag=np.where(is_open, "...A.RS.", "....RS."), opkt=1, obyt=np.where(is_open, 44, 40))
    normal = flows(np.arange(50) * 600.0, "10.0.0.6", "10.0.3.3", 443, opkt=5, obyt=3000)
    found = find("vertical_scan", day(scan, normal))
    hit = row(found, sip="10.0.0.9", dip="10.0.3.3")
    assert len(found) == 1
    assert hit["evidence"]["targets"] == 1024 and hit["evidence"]["failed_targets"] == 1021
    assert hit["evidence"]["failed_share"] == pytest.approx(1021 / 1024)
    assert hit["score"] > 0.95
    assert "reply counters and TCP flags" in hit["reason"]


def test_a_scan_whose_outcome_nobody_recorded_says_unknown_and_counts_half():
    # UDP probes of 40 ports, unidirectional export: neither reply counters nor TCP flags
    scan = flows(np.arange(40.0), "10.0.0.9", "10.0.3.4", np.arange(100, 140), proto="UDP", flag="......")
    hit = find("vertical_scan", scan).iloc[0]
    assert np.isnan(hit["evidence"]["failed_share"])
    assert "outcome unknown" in hit["reason"]
    assert hit["score"] == pytest.approx((0.5 + 0.5 * math.log(40 / 15) / math.log(10)) * 0.5)


# ----- bulk outbound

def _uploads(bytes_by_host: dict[str, float]) -> pd.DataFrame:
    """Each host's day out: ten flows to outside addresses sharing its bytes."""
    return day(*[flows(np.arange(10) * 3600.0, host, "93.184.216.34", 443, ibyt=int(total / 10))
                 for host, total in bytes_by_host.items()])


def _history(days: int, bytes_by_host: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame([{"day": DAY - dt.timedelta(days=d), "sip": h, "bytes_out": b}
                         for d in range(1, days + 1) for h, b in bytes_by_host.items()])


PEERS = {f"10.0.4.{i}": 40e6 + i * 1e6 for i in range(1, 31)}  # 30 hosts sending 41-70 MB a day


def test_bulk_outbound_against_its_own_week_and_its_peers():
    usual = {**PEERS, "10.0.0.20": 150e6, "10.0.0.21": 900e6}
    today = {**PEERS, "10.0.0.20": 2.1e9, "10.0.0.21": 1.0e9}  # 14x its median; a backup server at 1.1x
    ctx = DetectContext(day=DAY, history=_history(7, usual))
    found = find("bulk_outbound", _uploads(today), ctx)
    exfil = row(found, sip="10.0.0.20")
    assert found.iloc[0]["sip"] == "10.0.0.20"
    assert exfil["evidence"]["ratio"] == pytest.approx(14)
    # robust z of log10 bytes over the 32 hosts, computed here with numpy
    logs = np.log10(np.array(list(today.values())))
    z = 0.6745 * (np.log10(2.1e9) - np.median(logs)) / np.median(np.abs(logs - np.median(logs)))
    assert exfil["evidence"]["peer_z"] == pytest.approx(z)
    assert exfil["evidence"]["top_share"] == pytest.approx(1 / 32)
    assert "sent 2.1 GB out, 14x its 7-day median (150.0 MB), top 3.1 % of 32 hosts" in exfil["reason"]
    own = 0.5 + 0.5 * math.log(14 / 10) / math.log(10)
    peer = 0.5 + 0.5 * math.log(z / 3.5) / math.log(3) if z < 10.5 else 1.0
    assert exfil["score"] == pytest.approx(1 - (1 - own) * (1 - peer))
    assert set(found["sip"]) <= {"10.0.0.20", "10.0.0.21"}  # ordinary hosts never
    assert row(found, sip="10.0.0.21")["evidence"]["ratio"] == pytest.approx(1.0 / 0.9)


def test_bulk_outbound_without_history_compares_with_peers_only_and_counts_answers_to_outside_clients():
    # an internal web server answering an outside client 3 GB (bidirectional record: obyt is its side)
    served = flows([3600.0], "81.2.69.77", "10.0.0.30", 443, ibyt=2_000, obyt=3_000_000_000)
    found = find("bulk_outbound", day(_uploads(PEERS), served))
    hit = row(found, sip="10.0.0.30")
    assert len(found) == 1
    assert hit["evidence"]["bytes_out"] == 3e9 and np.isnan(hit["evidence"]["ratio"])
    assert "no earlier days to compare" in hit["reason"]


def test_bulk_outbound_profile_is_bytes_out_per_internal_host():
    events = day(_uploads({"10.0.0.1": 5e6, "10.0.0.2": 7e6}), flows([1.0], "10.0.0.1", "10.0.0.2", 445, ibyt=9e9))
    profile = flow.profile_bytes_out(events, flow.BulkOutboundParams(), CTX).set_index("sip")["bytes_out"]
    assert profile.to_dict() == {"10.0.0.1": 5e6, "10.0.0.2": 7e6}  # internal→internal bytes are not "out"


# ----- lateral movement

def _office():
    """20 workstations each reaching the DC and a file server on SMB; an IT jump host RDPs to 30 servers."""
    stations = [f"10.0.6.{i}" for i in range(1, 21)]
    smb = [flows([3600.0 + i, 3700.0 + i], s, ["10.0.9.1", "10.0.9.2"], 445) for i, s in enumerate(stations)]
    jump = flows(np.arange(30) * 60.0, "10.0.7.1", [f"10.0.8.{i}" for i in range(30)], 3389)
    return day(*smb, jump)


def _attacker():
    targets = [f"10.0.6.{i}" for i in range(1, 9)]
    return day(*[flows(7200.0 + np.arange(8) * 240 + k * 20, "10.0.6.13", targets, port)
                 for k, port in enumerate((445, 3389))])


def test_lateral_movement_with_history_flags_new_fan_out_and_spares_the_usual_jump_host():
    history = pd.concat([pd.DataFrame({"day": DAY - dt.timedelta(days=d), "sip": [f"10.0.6.{i}" for i in range(1, 21)],
                                       "dport": 445, "peers": 2}) for d in range(1, 8)]
                        + [pd.DataFrame({"day": [DAY - dt.timedelta(days=d) for d in range(1, 8)],
                                         "sip": "10.0.7.1", "dport": 3389, "peers": 28})])
    found = find("lateral_movement", day(_office(), _attacker()), DetectContext(day=DAY, history=history))
    assert set(zip(found["sip"], found["dport"])) == {("10.0.6.13", 445), ("10.0.6.13", 3389)}
    rdp = row(found, sip="10.0.6.13", dport=3389)
    # 3389 is new for it: the fan-out alone scores, 8 hosts on a threshold of 5
    assert rdp["evidence"]["new"] and rdp["evidence"]["peers"] == 8
    assert rdp["score"] == pytest.approx(0.5 + 0.5 * math.log(8 / 5) / math.log(10))
    # on 445 it usually reaches 2 hosts (DC and file server): today 10, its 8 targets besides
    smb = row(found, sip="10.0.6.13", dport=445)
    assert smb["evidence"]["peers"] == 10 and smb["evidence"]["usual_peers"] == 2
    assert "5.0x its 7-day median (2)" in smb["reason"]


def test_lateral_movement_counts_sessions_not_failed_attempts():
    # 30 internal hosts tried on SMB, none answered: a sweep, not movement
    tried = flows(np.arange(30.0), "10.0.6.13", [f"10.0.8.{i}" for i in range(30)], 445, flag="......S.")
    assert "10.0.6.13" not in set(find("lateral_movement", day(_office(), tried))["sip"])
    assert "10.0.6.13" in set(find("lateral_movement", day(_office(), _attacker()))["sip"])


def test_lateral_movement_without_history_compares_with_the_port_s_other_sources():
    found = find("lateral_movement", day(_office(), _attacker()))
    smb = row(found, sip="10.0.6.13", dport=445)
    # 20 sources on 445: nineteen reach 2 hosts, the attacker 10; MAD 0 → mean absolute deviation fallback
    peers = np.array([2] * 19 + [10], float)
    z = (10 - np.median(peers)) / (1.2533 * np.mean(np.abs(peers - np.median(peers))))
    assert smb["evidence"]["peer_z"] == pytest.approx(z)
    assert "no history" in smb["reason"] or "robust z" in smb["reason"]
    # on 3389 only the jump host and the attacker: too few peers, novelty unknown, half credit
    rdp = row(found, sip="10.0.6.13", dport=3389)
    assert rdp["score"] == pytest.approx((0.5 + 0.5 * math.log(8 / 5) / math.log(10)) * 0.5)
    assert "too few peers" in rdp["reason"]
    assert found.iloc[0]["sip"] == "10.0.6.13"


# ----- all together

def test_every_detector_runs_on_an_empty_day_and_on_a_day_of_null_columns():
    empty = flows([], "10.0.0.1", "10.0.0.2", 80)
    nulls = flows(np.arange(30.0), [None] * 15 + ["10.0.0.1"] * 15, "45.77.10.1", 443, flag=None, proto=None,
                  opkt=None, obyt=None, ibyt=None, tdur=None)
    assert run_all(FLOW, flow.DETECTORS, empty, CTX).findings.num_rows == 0
    result = run_all(FLOW, flow.DETECTORS, nulls, CTX)
    # the 15 flows with a source are a one-second timer; the 15 without one belong to no entity
    assert result.findings.to_pandas()[["detector", "sip", "events"]].values.tolist() == [["beacon", "10.0.0.1", 15]]
    assert set(result.profiles) == {"bulk_outbound", "lateral_movement"}


def test_each_detector_reads_only_the_columns_it_declares():
    targets = [f"10.0.2.{i}" for i in range(1, 41)]
    events = day(_c2_and_ntp(np.random.default_rng(6)), _office(), _attacker(),
                 flows(np.arange(40.0), "10.0.0.9", targets, 445, flag="......S."),
                 flows([72_000.0], "10.0.0.7", "45.33.32.22", 22, tdur=7200.0))
    fired = set()
    for detector in flow.DETECTORS:
        full = detector.find(events, detector.params(), CTX)
        narrow = detector.find(events[list(detector.columns)].copy(), detector.params(), CTX)
        pd.testing.assert_frame_equal(full, narrow)
        fired |= {detector.name} if len(full) else set()
    assert fired >= {"beacon", "long_connection", "horizontal_scan", "lateral_movement"}
