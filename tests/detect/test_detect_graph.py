"""Detection through real Dagster materializations: a real DNS tunnel capture in a simulated day.

The tunnel is `dns-pcaps/tunnel/iodine-elastic.pcap` (iodine, 212 responses under pirate.sea), moved
with editcap onto the simulated day; everything else of the day is the simulator's. The tunnel must
lead the DNS priority list with its reason, where Spot's LDA order alone does not put it first.
"""

import datetime as dt
import shutil
import subprocess

import dagster as dg
import pytest

from resources.config import SpotConfig
from resources.lake import LakeResource
from spot_assets.definitions import build_definitions
from tests.sample import make_sample

DAY = dt.date(2024, 7, 8)
DNS_ASSETS = ["dns_raw", "dns_events", "dns_rejects", "dns_words", "dns_model", "dns_scores", "dns_suspicious",
              "dns_findings", "dns_priority"]


def _first_packet(path):
    out = subprocess.run(["capinfos", "-T", "-r", "-S", "-a", str(path)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1].split("\t")[-1])


def test_a_real_dns_tunnel_leads_the_priority_list_with_its_reason(spark, shared_datasets, tmp_path):
    cfg = SpotConfig.model_validate({
        "home": str(tmp_path / "home"),
        "spark": {"master": "local[2]", "shuffle_partitions": 2},
        "ingest": {"settle_seconds": 0, "start_date": "2024-01-01"},
        "ml": {"topic_count": 5, "iterations": 10, "max_results": 50},
    })
    landing = cfg.landing_root / "dns"
    landing.mkdir(parents=True)
    sample = make_sample(tmp_path / "sample", DAY, seed=3, events=600)
    shutil.copy(sample["dns"][0], landing)
    tunnel = shared_datasets / "dns-pcaps" / "tunnel" / "iodine-elastic.pcap"
    noon = dt.datetime.combine(DAY, dt.time(12), dt.timezone.utc).timestamp()
    subprocess.run(["editcap", "-F", "pcap", "-t", f"{noon - _first_packet(tunnel):.6f}", str(tunnel),
                    str(landing / "iodine.pcap")], check=True, capture_output=True)

    job = build_definitions(cfg).resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(partition_key=DAY.isoformat(), asset_selection=[dg.AssetKey(a) for a in DNS_ASSETS],
                                    instance=dg.DagsterInstance.ephemeral())
    assert result.success

    lake = LakeResource(root=cfg.lake_root)
    listed = lake.read_day("dns_priority", DAY).to_pylist()
    first = listed[0]
    assert first["domain"] == "pirate.sea" and first["rank"] == 1
    assert "tunnel" in first["detectors"] and "tunnel" in first["reasons"]
    # the iodine client's 212 responses are all covered by that row
    assert first["events"] >= 200
    findings = lake.read_day("dns_findings", DAY).to_pylist()
    assert any(f["detector"] == "tunnel" and f["domain"] == "pirate.sea" for f in findings)


@pytest.fixture(autouse=True)
def _tools():
    for tool in ("capinfos", "editcap"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} (Debian package tshark) is required")
