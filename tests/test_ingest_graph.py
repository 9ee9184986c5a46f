"""The ingest stage through real Dagster materializations: real nfdump and tshark, real Spark."""

import datetime as dt
import os
import random
import shutil
import subprocess

import dagster as dg
import pyarrow.compute as pc
import pytest

from resources.lake import LakeResource
from spot_assets import schemas
from spot_assets.datatypes import DATA_TYPES
from spot_assets.definitions import build_definitions, resources_for
from spot_assets.ingest import manifest
from tests.sample import make_sample

DAY = dt.date(2024, 7, 8)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return make_sample(tmp_path_factory.mktemp("sample"), DAY, seed=11, events=400)


def expected_rows(data_type, files):
    """Counts from the tools themselves (or the text), never from our decoders."""
    if data_type == "flow":
        stats = [subprocess.run(["nfdump", "-I", "-r", str(f)], capture_output=True, text=True, check=True).stdout
                 for f in files]
        return sum(int(line.split()[1]) for s in stats for line in s.splitlines() if line.startswith("Flows:"))
    if data_type == "dns":
        out = subprocess.run(["tshark", "-r", str(files[0]), "-Y", "dns.flags.response == 1", "-T", "fields",
                              "-e", "frame.number"], capture_output=True, text=True, check=True).stdout
        return len(out.split())
    return sum(1 for f in files for line in open(f) if line.strip() and not line.startswith("#"))


def land_in_landing(cfg, data_type, files):
    folder = cfg.landing_root / data_type
    folder.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copy(f, folder / f.name)


def materialize(cfg, data_type, day=DAY):
    defs = build_definitions(cfg)
    keys = [dg.AssetKey(f"{data_type}_{n}") for n in ("raw", "events", "rejects", "ingest_summary")]
    job = defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(partition_key=day.isoformat(), asset_selection=keys,
                                  instance=dg.DagsterInstance.ephemeral(), raise_on_error=True)


def metadata(result, key):
    [mat] = [e.materialization for e in result.get_asset_materialization_events()
             if e.materialization.asset_key.to_user_string() == key]
    return {k: v.value for k, v in mat.metadata.items()}


@pytest.mark.parametrize("data_type", tuple(DATA_TYPES))
def test_landed_captures_become_events_summary_and_pass_checks(spark, spot_config, sample, data_type):
    files = sample[data_type]
    land_in_landing(spot_config, data_type, files)
    result = materialize(spot_config, data_type)

    expected = expected_rows(data_type, files)
    assert expected > 100
    events = metadata(result, f"{data_type}_events")
    assert events["rows"] == expected and events["rejects"] == 0
    assert events["files"] == len(files) and events["files_quarantined"] == 0
    assert all(c.passed for c in result.get_asset_check_evaluations())
    assert {c.check_name for c in result.get_asset_check_evaluations()} == {"schema", "non_empty", "reject_rate"}
    assert not any((spot_config.landing_root / data_type).iterdir())  # moved into the raw zone

    lake = LakeResource(root=spot_config.lake_root)
    table = lake.read_day(f"{data_type}_events", DAY, DATA_TYPES[data_type].events)
    assert table.num_rows == expected
    assert pc.all(pc.equal(pc.strftime(table["ts"], "%Y-%m-%d"), DAY.isoformat())).as_py()
    summary = lake.read_day(f"{data_type}_ingest_summary", DAY, schemas.INGEST_SUMMARY)
    assert pc.sum(summary["total"]).as_py() == expected
    assert metadata(result, f"{data_type}_ingest_summary")["events"] == expected
    # Raw files are kept byte for byte.
    for entry in manifest.entries(lake, data_type, DAY):
        original = next(f for f in files if f.name == entry.name)
        assert open(entry.path, "rb").read() == original.read_bytes()


def test_reingesting_the_same_files_changes_nothing(spark, spot_config, sample):
    land_in_landing(spot_config, "dns", sample["dns"])
    first = metadata(materialize(spot_config, "dns"), "dns_events")["rows"]
    land_in_landing(spot_config, "dns", sample["dns"])  # the same capture lands again
    again = materialize(spot_config, "dns")
    assert metadata(again, "dns_raw")["duplicates_landed"] == 1
    assert metadata(again, "dns_events")["rows"] == first
    # Decoding a file again (e.g. after a decoder upgrade) replaces its rows instead of adding to them.
    lake = LakeResource(root=spot_config.lake_root)
    [entry] = [e for e in manifest.entries(lake, "dns", DAY) if e.status == manifest.DECODED]
    entry.decoder = "0"
    manifest.save(lake, entry)
    redecoded = materialize(spot_config, "dns")
    assert metadata(redecoded, "dns_events")["files_decoded_now"] == 1
    assert metadata(redecoded, "dns_events")["rows"] == first


def test_bad_files_are_quarantined_and_good_ones_still_land(spark, spot_config, sample, tmp_path):
    good = sample["flow"][:3]
    truncated = tmp_path / "nfcapd.202407081200"
    truncated.write_bytes(sample["flow"][12].read_bytes()[:700])
    garbage = tmp_path / "nfcapd.202407081300"
    garbage.write_bytes(random.Random(1).randbytes(5000))
    land_in_landing(spot_config, "flow", [*good, truncated, garbage])
    result = materialize(spot_config, "flow")

    events = metadata(result, "flow_events")
    assert events["rows"] == expected_rows("flow", good)
    assert events["files_quarantined"] == 2
    lake = LakeResource(root=spot_config.lake_root)
    bad = {e.name: e for e in manifest.entries(lake, "flow", DAY) if e.status == manifest.QUARANTINED}
    assert set(bad) == {truncated.name, garbage.name}
    for entry in bad.values():
        assert entry.error.startswith(entry.name) and "/quarantine/flow/y=2024/m=07/d=08/" in entry.path
        assert os.path.exists(entry.path)


def test_sensor_requests_each_day_once(spot_config, sample):
    defs = build_definitions(spot_config)
    sensor = defs.resolve_sensor_def("proxy_landing_sensor")
    land_in_landing(spot_config, "proxy", sample["proxy"])
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources=resources_for(spot_config),
                                          definitions=defs)
        first = sensor(context)
        assert [r.partition_key for r in first.run_requests] == [DAY.isoformat()]
        context = dg.build_sensor_context(instance=instance, cursor=first.cursor,
                                          resources=resources_for(spot_config), definitions=defs)
        assert sensor(context).run_requests == []


def test_definitions_load():
    import spot_assets.definitions as module

    defs = module.defs()
    assert dg.AssetKey("flow_events") in defs.resolve_asset_graph().get_all_asset_keys()
    dg.Definitions.validate_loadable(defs)
