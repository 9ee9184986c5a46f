"""The dashboard's data functions on a tiny lake (conftest): the suspicious list and what leaves it,
the network view, details, chord and dendrogram data, the ingest series, validation of request input
and CSV neutralisation. Expected values are counted from the events the test wrote, with plain Python."""

from __future__ import annotations

import datetime as dt
import io
import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from resources.lake import LakeResource
from resources.store import AnalystStore
from spot_assets.datatypes import DNS
from spot_assets.oa.domains import registrable
from spot_dash import (context_data, details_data, exports, ingest_data, inputs, network_data, scoring_data,
                       suspicious_data)
from spot_dash.views import dns as dns_view
from spot_dash.views import flow as flow_view
from spot_dash.views import proxy as proxy_view
from tests.dash.conftest import DAY, EVENTS, write_day


@pytest.fixture
def lake(tmp_path) -> LakeResource:
    lake = LakeResource(root=str(tmp_path / "lake"))
    for data_type in EVENTS:
        write_day(lake, data_type)
    return lake


@pytest.fixture
def store(tmp_path) -> AnalystStore:
    return AnalystStore(f"sqlite:///{tmp_path / 'analyst.db'}")


def _listed(lake, data_type) -> list[dict]:
    return lake.read_day(f"{data_type}_suspicious", DAY).to_pylist()


# ----- validation


@pytest.mark.parametrize("text", ["2024-02-30", "2024-7-8", "../../etc/passwd", "2024-07-08' OR 1=1", "", None,
                                  "1969-12-31", "20240708"])
def test_bad_days_are_refused(text):
    with pytest.raises(inputs.Invalid):
        inputs.parse_day(text)


def test_days_ips_ports_and_types():
    assert inputs.parse_day(" 2024-07-08 ") == DAY
    assert inputs.parse_ip(" 10.0.0.1 ") == "10.0.0.1"
    assert inputs.parse_ip("2001:DB8::1") == "2001:db8::1"
    for bad in ("10.0.0.256", "10.0.0.1/24", "host", "", None):
        with pytest.raises(inputs.Invalid):
            inputs.parse_ip(bad)
    assert inputs.parse_port("443") == 443
    for bad in ("-1", "65536", "http"):
        with pytest.raises(inputs.Invalid):
            inputs.parse_port(bad)
    with pytest.raises(inputs.Invalid):
        inputs.parse_type("flow/../../x")


def test_filter_text_by_type():
    assert inputs.parse_filter("flow", "  ") is None
    assert inputs.parse_filter("flow", "10.0.0.5") == inputs.Filter("ip", "10.0.0.5")
    with pytest.raises(inputs.Invalid, match="by an IP"):
        inputs.parse_filter("flow", "evil.com")
    assert inputs.parse_filter("dns", "Evil.com") == inputs.Filter("text", "Evil.com")
    assert inputs.parse_filter("proxy", "/gate.php?a=%27") == inputs.Filter("text", "/gate.php?a=%27")
    with pytest.raises(inputs.Invalid, match="control"):
        inputs.parse_filter("dns", "a\x00b")
    with pytest.raises(inputs.Invalid, match="longer"):
        inputs.parse_filter("proxy", "x" * (inputs.MAX_TEXT + 1))


def test_ingest_period_defaults_and_swaps():
    assert inputs.parse_range(None, None, DAY) == (DAY - dt.timedelta(days=7), DAY)
    assert inputs.parse_range("2024-07-01", None, DAY) == (dt.date(2024, 7, 1), dt.date(2024, 7, 8))
    assert inputs.parse_range(None, "2024-07-08", DAY) == (dt.date(2024, 7, 1), DAY)
    assert inputs.parse_range("2024-07-08", "2024-07-01", DAY) == (dt.date(2024, 7, 1), DAY)
    with pytest.raises(inputs.Invalid):
        inputs.parse_range("2023-01-01", "2024-07-01", DAY)


# ----- the suspicious list


def test_list_reads_the_ml_output_with_ranks_when_there_is_no_enrichment(lake):
    view = suspicious_data.suspicious_view(lake, [], "flow", DAY)
    listed = _listed(lake, "flow")
    assert view.source == "flow_suspicious" and view.listed == len(listed) and view.scored == 0
    assert view.rows["rank"].to_pylist() == list(range(len(listed)))
    assert view.rows["score"].to_pylist() == sorted(r["score"] for r in listed)
    assert not view.has_geo and not view.has_reputation
    assert suspicious_data.suspicious_view(lake, [], "flow", DAY - dt.timedelta(days=1)) is None


def test_list_prefers_the_enriched_table_and_shows_its_context(lake):
    table = lake.read_day("flow_suspicious", DAY)
    n = table.num_rows
    inside = lambda column: pa.array([int(ip.startswith("10.")) for ip in table[column].to_pylist()])  # noqa: E731
    enriched = (table.append_column("rank", pa.array(range(n), pa.int64()))
                .append_column("srcip_internal", inside("sip")).append_column("dstip_internal", inside("dip"))
                .append_column("src_geoloc", pa.array([""] * n)).append_column("dst_geoloc", pa.array(["CA;Ottawa ISP"] * n))
                .append_column("src_rep", pa.array([""] * n)).append_column("dst_rep", pa.array(["gti:High:3::fb:NONE:0"] * n)))
    lake.replace_day("flow_enriched", DAY, enriched)
    view = suspicious_data.suspicious_view(lake, [], "flow", DAY)
    assert view.source == "flow_enriched" and view.has_geo and view.has_reputation
    elements = flow_view.elements(view.rows)
    kinds = {e["data"]["label"]: e["data"]["kind"] for e in elements if "kind" in e["data"]}
    assert kinds["203.0.113.9"] == "external" and kinds["10.0.0.5"] == "internal"
    tip = next(e["data"]["tip"] for e in elements if e["data"].get("label") == "198.51.100.20")
    assert "CA;Ottawa ISP" in tip and "gti High" in tip


def test_reputation_strings():
    assert context_data.parse_reputation("gti:High:3::fb:UNKNOWN:-1") == (3, [("gti", "High"), ("fb", "UNKNOWN")])
    assert context_data.parse_reputation("gti:Medium:2:cat|group") == (2, [("gti", "Medium")])
    assert context_data.parse_reputation("") == (-1, []) and context_data.parse_reputation("garbage") == (-1, [])


def test_scored_rows_leave_the_list(lake, store):
    store.rate("flow", DAY, {"sip": "10.0.0.5"}, 1, "ana")
    store.rate("flow", DAY, {"sip": "10.0.0.7", "sport": 40000}, 3, "ana")
    store.rate("flow", DAY, {"dip": "8.8.8.8"}, 2, "ana")  # matches nothing
    store.rate("flow", DAY - dt.timedelta(days=1), {"dip": "203.0.113.9"}, 1, "ana")  # another day
    view = suspicious_data.suspicious_view(lake, store.ratings("flow", [DAY]), "flow", DAY)
    listed = _listed(lake, "flow")
    scored = [r for r in listed if r["sip"] == "10.0.0.5" or (r["sip"] == "10.0.0.7" and r["sport"] == 40000)]
    assert view.scored == len(scored) == 3
    assert view.rows.num_rows == len(listed) - 3
    kept = list(zip(view.rows["sip"].to_pylist(), view.rows["sport"].to_pylist()))
    assert ("10.0.0.5", 50001) not in kept and ("10.0.0.7", 40001) in kept and ("10.0.0.7", 40000) not in kept
    assert view.rows["rank"].to_pylist()[:2] == [2, 4]  # ranks stay those of the ML output


def test_dns_and_proxy_selectors(lake, store):
    store.rate("dns", DAY, {"dns_qry_name": "x7f3k9q.badcdn.xyz", "ip_dst": "10.0.2.9"}, 1, "ana")
    store.rate("proxy", DAY, {"clientip": "10.0.3.9"}, 2, "ana")
    dns = suspicious_data.suspicious_view(lake, store.ratings("dns", [DAY]), "dns", DAY)
    assert dns.scored == sum(r["dns_qry_name"] == "x7f3k9q.badcdn.xyz" for r in _listed(lake, "dns")) == 2
    proxy = suspicious_data.suspicious_view(lake, store.ratings("proxy", [DAY]), "proxy", DAY)
    assert proxy.scored == 3 and "10.0.3.9" not in proxy.rows["clientip"].to_pylist()


def test_filters(lake):
    flow = suspicious_data.suspicious_view(lake, [], "flow", DAY, inputs.Filter("ip", "10.0.0.5"))
    assert flow.rows.num_rows == sum("10.0.0.5" in (r["sip"], r["dip"]) for r in _listed(lake, "flow")) == 3
    dns = suspicious_data.suspicious_view(lake, [], "dns", DAY, inputs.Filter("text", "BADCDN"))
    assert dns.rows["dns_qry_name"].to_pylist() == ["x7f3k9q.badcdn.xyz"] * 2
    proxy = suspicious_data.suspicious_view(lake, [], "proxy", DAY, inputs.Filter("text", "gate.php"))
    assert proxy.rows.num_rows == 3
    nothing = suspicious_data.suspicious_view(lake, [], "dns", DAY, inputs.Filter("text", "%"))  # a literal, not a pattern
    assert nothing.rows.num_rows == 0


# ----- the network view


def test_flow_network_nodes_and_links(lake):
    rows = lake.read_day("flow_suspicious", DAY)
    elements = flow_view.elements(rows)
    nodes = {e["data"]["label"]: e for e in elements if "source" not in e["data"]}
    edges = [e["data"] for e in elements if "source" in e["data"]]
    listed = rows.to_pylist()
    ips = {r["sip"] for r in listed} | {r["dip"] for r in listed}
    pairs = {frozenset((r["sip"], r["dip"])) for r in listed}
    assert set(nodes) == ips and len(edges) == len(pairs)
    assert nodes["10.0.0.5"]["classes"] == "internal" and nodes["203.0.113.9"]["classes"] == "external"
    assert nodes["10.0.0.5"]["data"]["hits"] == sum("10.0.0.5" in (r["sip"], r["dip"]) for r in listed)
    pair = frozenset(("10.0.0.5", "203.0.113.9"))
    lowest = min(r["score"] for r in listed if frozenset((r["sip"], r["dip"])) == pair)
    a, b = network_data.node_id("internal", "10.0.0.5"), network_data.node_id("external", "203.0.113.9")
    edge = next(e for e in edges if {e["source"], e["target"]} == {a, b})
    assert edge["weight"] == pytest.approx(-math.log(lowest), abs=1e-3)
    row = listed[0]
    assert network_data.row_elements(row, "flow") == [a, b, network_data.edge_id(a, b)]


def test_dns_network_groups_queries_by_domain(lake):
    elements = dns_view.elements(lake.read_day("dns_suspicious", DAY))
    domains = {e["data"]["label"] for e in elements if e.get("classes") == "domain"}
    assert domains == {"badcdn.xyz", "example.com", "example.net"}
    assert registrable("mail.google.co.uk") == "google.co.uk"


def test_proxy_hierarchy_expands_and_collapses(lake):
    rows = lake.read_day("proxy_suspicious", DAY)
    tree = proxy_view.tree(rows)
    shown = lambda expanded: {e["data"]["kind"] for e in proxy_view.tree_elements(tree, expanded) if "kind" in e["data"]}  # noqa: E731
    assert shown(set()) == {"root", "method"}  # Spot: only methods at first
    root = network_data.node_id("root", "Proxy")
    everything = proxy_view.toggle(tree, set(), root)
    assert shown(everything) == {"root", "method", "host", "path", "client"}
    assert proxy_view.toggle(tree, everything, root) == set()
    post = network_data.node_id("method", "POST")
    opened = proxy_view.toggle(tree, set(), post)
    host = network_data.node_id("host", "POST\0upload.badhost.xyz")
    deeper = proxy_view.toggle(tree, opened, host)
    assert proxy_view.toggle(tree, deeper, post) == set()  # closing a node closes what is below it
    assert tree[root]["hits"] == rows.num_rows
    chain = proxy_view.chain(rows.to_pylist()[0])
    assert chain[:3] == [root, post, host]


# ----- details


def test_flow_details_are_the_pairs_minute_both_ways(lake):
    row = lake.read_day("flow_suspicious", DAY).to_pylist()[0]
    got = details_data.details(lake, "flow", row)
    minute = row["ts"].replace(second=0, microsecond=0)
    expected = [e for e in EVENTS["flow"]().to_pylist()
                if {e["sip"], e["dip"]} == {row["sip"], row["dip"]} and minute <= e["ts"] < minute + dt.timedelta(minutes=1)]
    assert got.num_rows == len(expected) == 4
    assert got["ts"].to_pylist() == sorted(e["ts"] for e in expected)


def test_dns_and_proxy_details(lake):
    dns_row = lake.read_day("dns_suspicious", DAY).to_pylist()[0]
    dns = details_data.details(lake, "dns", dns_row)
    assert dns["dns_a"].to_pylist() == ["203.0.113.50", "203.0.113.51"]
    proxy_row = lake.read_day("proxy_suspicious", DAY).to_pylist()[0]
    proxy = details_data.details(lake, "proxy", proxy_row)
    assert proxy.num_rows == 3 and set(proxy["useragent"].to_pylist()) == {"Mozilla/5.0 (test)"}


def test_chord_sums_the_ips_bytes_per_direction(lake):
    chord = details_data.flow_chord(lake, DAY, "10.0.0.5", top=4)
    events = EVENTS["flow"]().to_pylist()
    mine = [e for e in events if "10.0.0.5" in (e["sip"], e["dip"])]
    assert chord.labels[0] == "10.0.0.5" and chord.labels[-1] == "other" and len(chord.labels) == 6
    assert chord.matrix.sum() == sum(e["ibyt"] for e in mine)
    i = chord.labels.index("203.0.113.9")
    assert chord.matrix[0, i] == sum(e["ibyt"] for e in mine if e["dip"] == "203.0.113.9")
    assert chord.matrix[i, 0] == sum(e["ibyt"] for e in mine if e["sip"] == "203.0.113.9")


def test_dns_tree_counts_answers(lake):
    tree = details_data.dns_tree(lake, DAY, "10.0.2.9")
    assert sorted(zip(tree["dns_qry_name"].to_pylist(), tree["dns_a"].to_pylist(), tree["queries"].to_pylist())) == [
        ("c2.evil.example.net", "198.51.100.66", 1), ("x7f3k9q.badcdn.xyz", "203.0.113.50", 1),
        ("x7f3k9q.badcdn.xyz", "203.0.113.51", 1)]


def test_dns_tree_reads_the_dendrogram_the_asset_built(lake):
    built = DNS.oa.dendro(lake, DAY, pa.array(["10.0.2.9"]))
    lake.replace_day("dns_dendro", DAY, built.filter(pc.not_equal(built["dns_qry_name"], "c2.evil.example.net")))
    assert set(details_data.dns_tree(lake, DAY, "10.0.2.9")["dns_qry_name"].to_pylist()) == {"x7f3k9q.badcdn.xyz"}
    other = details_data.dns_tree(lake, DAY, "10.0.2.1")  # a client the table does not hold: computed
    assert sum(other["queries"].to_pylist()) == sum(1 for e in EVENTS["dns"]().to_pylist() if e["ip_dst"] == "10.0.2.1")


def test_ingest_series_fills_quiet_minutes(lake):
    series = ingest_data.ingest_series(lake, "flow", DAY - dt.timedelta(days=7), DAY)
    events = EVENTS["flow"]()
    assert int(pc.sum(series["total"]).as_py()) == events.num_rows
    steps = np.diff(series["minute"].cast(pa.int64()).to_numpy())
    assert (steps == 60_000).all()
    assert ingest_data.ingest_series(lake, "flow", dt.date(2020, 1, 1), dt.date(2020, 1, 7)).num_rows == 0


def test_page_data_bundles_list_graph_and_first_details(lake):
    page = suspicious_data.page_data(lake, [], "proxy", DAY)
    assert page.view.rows.num_rows == 23 and page.elements and page.first_details.num_rows == 3


# ----- scoring


def test_criteria_follow_spots_scoring_panel():
    quick = scoring_data.criteria("flow", {"sip": "all", "dip": "all", "sport": "all", "dport": "4444"}, "203.0.113.9", 3)
    assert [c.selector for c in quick] == [{"dport": 4444, "sip": "203.0.113.9"}, {"dport": 4444, "dip": "203.0.113.9"}]
    assert scoring_data.criteria("dns", {"ip_dst": "10.0.2.9", "dns_qry_name": "all"}, "evil.com", 1)[0].selector == {
        "ip_dst": "10.0.2.9", "dns_qry_name": "evil.com"}
    with pytest.raises(inputs.Invalid, match="at least one"):
        scoring_data.criteria("proxy", {"clientip": "all", "fulluri": "all"}, "", 1)
    with pytest.raises(inputs.Invalid):
        scoring_data.criteria("flow", {"sport": "99999"}, None, 1)
    with pytest.raises(inputs.Invalid):
        scoring_data.criteria("flow", {"sip": "10.0.0.1"}, None, 4)
    with pytest.raises(inputs.Invalid):
        scoring_data.criteria("flow", {"fulluri": "x"}, None, 1)


def test_matching_rows_counts_every_exact_match(lake):
    rows = lake.read_day("flow_suspicious", DAY)
    selectors = [c.selector for c in scoring_data.criteria("flow", {}, "203.0.113.9", 1)]
    assert scoring_data.matching_rows(rows, selectors) == sum("203.0.113.9" in (r["sip"], r["dip"]) for r in rows.to_pylist())


# ----- exports


def test_csv_neutralises_formulas():
    table = pa.table({"uri": ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "\tx", "safe", None],
                      "n": [1, 2, 3, 4, 5, 6, 7]})
    back = pacsv.read_csv(io.BytesIO(exports.csv_bytes(table)))
    assert back["uri"].to_pylist()[:6] == ["'=HYPERLINK(\"http://x\")", "'+1", "'-2", "'@SUM(A1)", "'\tx", "safe"]
    assert back["n"].to_pylist() == list(range(1, 8))


@pytest.mark.parametrize("data_type", list(EVENTS))
def test_the_oa_enrichment_output_is_read_as_it_is(lake, data_type, tmp_path):
    """``<type>_enriched`` as spot_assets.oa.enrich writes it (Spot's column names, null context when
    nothing is configured) drives the same page."""
    from resources.config import ContextConfig
    from spot_assets.oa.enrich import enrich, load_context
    from spot_assets.oa.files import Warnings
    from spot_dash.components.grid import grid_rows

    suspicious = lake.read_day(f"{data_type}_suspicious", DAY)
    ctx = load_context(ContextConfig(), tmp_path, Warnings())
    lake.replace_day(f"{data_type}_enriched", DAY, enrich(data_type, suspicious, [], ctx, Warnings()))
    page = suspicious_data.page_data(lake, [], data_type, DAY)
    assert page.view.source == f"{data_type}_enriched" and page.view.rows.num_rows == suspicious.num_rows
    assert not page.view.has_geo and not page.view.has_reputation  # nothing configured: the page says so
    assert page.view.rows["score"].to_pylist() == sorted(suspicious["score"].to_pylist())
    assert page.elements and page.first_details.num_rows > 0
    rows = grid_rows(page.view.rows, data_type)
    if data_type == "flow":  # no ip_ranges configured: the address classes decide
        assert rows[0]["src_badge"] == "internal" and rows[0]["dst_badge"] == "rep0"
