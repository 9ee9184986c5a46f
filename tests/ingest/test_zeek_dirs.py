"""Zeek log folders as Zeek and its log rotation leave them, through the real landing path and `spot ingest`.

The folders are built in tmp_path from the real logs of the shared datasets: each entry goes to the
hourly file of the hour its connection ended (Zeek writes an entry when it is done), files are gzipped
as rotation leaves them (the last hour of a day stays plain), with Zeek's `#open`/`#close` lines and
`-`/`(empty)` fields. A log that runs past midnight is the unsplit conn.log of the labeled capture.
Expected counts come from the files' own lines read with plain Python, never from the decoders.
"""

import datetime as dt
import gzip
import hashlib
import json
import shutil
from collections import Counter
from pathlib import Path

import dagster as dg
import pytest

from resources.lake import LakeResource
from spot_cli.main import main
from spot_assets.datatypes import DATA_TYPES
from spot_assets.definitions import build_definitions, resources_for
from spot_assets.ingest import manifest
from spot_assets.ingest.landing import files_named, of_type, zeek_routes

LABELED = "zeek-labeled/010-ctu-normal-42-day2"
RITA_JSON = "zeek-logs/rita-json-with-all-fields"
UTC = dt.timezone.utc


def data_lines(path: Path) -> list[str]:
    """The entries of a Zeek log, as `zcat | grep -v '^#'` shows them."""
    opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
    with opener(path, "rt") as f:
        return [line for line in f if line.strip() and not line.startswith("#")]


def day_of_entry(line: str) -> dt.date:
    """The UTC day of an entry's ts (the first TSV field here, or a JSON entry's "ts")."""
    ts = json.loads(line)["ts"] if line.startswith("{") else float(line.split("\t", 1)[0])
    return dt.datetime.fromtimestamp(ts, UTC).date()


def rotate(source: Path, folder: Path, log: str) -> list[Path]:
    """``source`` as Zeek's rotation leaves it: ``YYYY-MM-DD/<log>.HH:00:00-HH:00:00.log.gz`` by end hour."""
    lines = source.read_text().splitlines(keepends=True)
    header = [line for line in lines if line.startswith("#") and not line.startswith("#close")]
    fields = next(line for line in header if line.startswith("#fields")).rstrip("\n").split("\t")[1:]
    duration = fields.index("duration") if "duration" in fields else None
    hours: dict[dt.datetime, list[str]] = {}
    for line in lines:
        if line.startswith("#"):
            continue
        values = line.split("\t")
        spent = values[duration] if duration is not None else "-"
        ended = float(values[0]) + (float(spent) if spent != "-" else 0.0)
        hour = dt.datetime.fromtimestamp(ended, UTC).replace(minute=0, second=0, microsecond=0)
        hours.setdefault(hour, []).append(line)
    written = []
    last_of_day = {}
    for hour in sorted(hours):
        last_of_day[hour.date()] = hour
    for hour, rows in sorted(hours.items()):
        day = folder / f"{hour:%Y-%m-%d}"
        day.mkdir(parents=True, exist_ok=True)
        text = "".join(header + rows + [f"#close\t{hour + dt.timedelta(hours=1):%Y-%m-%d-%H-%M-%S}\n"]).encode()
        name = f"{log}.{hour:%H}:00:00-{hour + dt.timedelta(hours=1):%H}:00:00.log"
        if last_of_day[hour.date()] == hour:  # not compressed yet
            (day / name).write_bytes(text)
            written.append(day / name)
        else:
            (day / f"{name}.gz").write_bytes(gzip.compress(text))
            written.append(day / f"{name}.gz")
    return written


@pytest.fixture
def zeek_dir(shared_datasets, tmp_path) -> dict:
    folder = tmp_path / "zeek-logs"
    files = {log: rotate(shared_datasets / LABELED / f"{log}.log.labeled", folder, log)
             for log in ("conn", "dns", "http")}
    # A log Spot does not read, as Zeek's JSON writer leaves it.
    ssl = folder / "2022-06-14" / "ssl.03:00:00-04:00:00.log.gz"
    ssl.write_bytes(gzip.compress((shared_datasets / "zeek-logs/rita-json-with-all-fields/ssl.log").read_bytes()))
    return {"folder": folder, "files": files, "datasets": shared_datasets}


def expected_days(files: list[Path]) -> Counter:
    return Counter(day_of_entry(line) for f in files for line in data_lines(f))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def assert_raw_kept(lake: LakeResource, data_type: str, folder: Path, days) -> None:
    """Every manifest entry's raw file holds the original bytes, under the name it had in the folder."""
    entries = [e for day in days for e in manifest.entries(lake, data_type, day) if e.status == manifest.DECODED]
    assert entries
    for entry in entries:
        original = folder / entry.name
        assert ":" in entry.name and entry.path.endswith(original.name)
        assert sha256(Path(entry.path).read_bytes()) == sha256(original.read_bytes()) == entry.sha256


def test_rotated_conn_logs_land_through_the_landing_folder_under_their_own_days(zeek_dir, spot_config):
    """The sensor and the raw/decode assets, as the daemon runs them, on gzipped hourly conn logs."""
    json_conn = zeek_dir["folder"] / "2018-01-31" / "conn.17:00:00-18:00:00.log.gz"  # Zeek's JSON writer
    json_conn.parent.mkdir()
    json_conn.write_bytes(gzip.compress((zeek_dir["datasets"] / RITA_JSON / "conn.log").read_bytes()))
    conn = [*zeek_dir["files"]["conn"], json_conn]
    expected = expected_days(conn)
    # The datasets' README: 5,347 conn rows in the labeled logs, 29 in RITA's JSON conn.log.
    assert sum(expected.values()) == 5347 + 29 and len(expected) == 3
    # A sensor cut off mid-entry: that line is a reject, the file's other entries still count.
    cut = next(f for f in conn if f.suffix == ".gz" and f.parent.name == "2022-06-14")
    text = gzip.decompress(cut.read_bytes()).decode().splitlines(keepends=True)
    text.insert(-1, text[-2][:60] + "\n")
    cut.write_bytes(gzip.compress("".join(text).encode()))
    expected, rejects = expected_days(conn), Counter({dt.date(2022, 6, 14): 1})  # data lines, and the cut one
    landing = spot_config.landing_root / "flow"
    landing.mkdir(parents=True)
    landed = {f"{f.parent.name}_{f.name}": f for f in conn}  # a flat folder: the day goes into the name
    for name, f in landed.items():
        shutil.copy(f, landing / name)
    vm = landing / "vm_conn.00:00:00-01:00:00.log.gz"  # 1970, before the first partition (2015-01-01)
    vm.write_bytes(gzip.compress((zeek_dir["datasets"] / "slips-samples/port-scans-horizontal/conn.log").read_bytes()))

    defs = build_definitions(spot_config)
    sensor = defs.resolve_sensor_def("flow_landing_sensor")
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources=resources_for(spot_config), definitions=defs)
        requested = sensor(context)
        days = [r.partition_key for r in requested.run_requests]
        again = dg.build_sensor_context(instance=instance, cursor=requested.cursor,
                                        resources=resources_for(spot_config), definitions=defs)
        assert sensor(again).run_requests == []
    # Each day its own run, none for today (files without a time once fell there).
    assert days == ["2018-01-31", "2022-06-13", "2022-06-14"]

    job = defs.resolve_implicit_global_asset_job_def()
    keys = [dg.AssetKey(k) for k in ("flow_raw", "flow_events", "flow_rejects")]
    lake = LakeResource(root=spot_config.lake_root)
    for key in days:
        result = job.execute_in_process(partition_key=key, asset_selection=keys,
                                        instance=dg.DagsterInstance.ephemeral())
        assert all(c.passed for c in result.get_asset_check_evaluations())
        [events] = [e.materialization for e in result.get_asset_materialization_events()
                    if e.materialization.asset_key.to_user_string() == "flow_events"]
        day = dt.date.fromisoformat(key)
        assert events.metadata["rows"].value == expected[day] - rejects[day]
        assert events.metadata["rejects"].value == rejects[day]
        table = lake.read_day("flow_events", day, DATA_TYPES["flow"].events, columns=["ts"])
        assert {ts.date() for ts in table["ts"].to_pylist()} == {day}
    assert list(landing.iterdir()) == [vm]  # named in the sensor's log, left where it is, no run failed for it
    entries = [e for key in days for e in manifest.entries(lake, "flow", dt.date.fromisoformat(key))]
    for entry in entries:
        original = landed[entry.name]
        assert sha256(Path(entry.path).read_bytes()) == sha256(original.read_bytes())


def test_zeek_logs_route_by_their_path_and_the_rest_is_counted(zeek_dir, shared_datasets):
    """ASCII logs by #path, JSON logs by their fields, other logs by name: nothing is silently dropped."""
    named = files_named([str(zeek_dir["folder"]), str(shared_datasets / RITA_JSON)])
    routes, skipped = zeek_routes(named, ["flow", "dns", "proxy"])
    files = zeek_dir["files"]
    assert {t: sorted(f.path for f in fs) for t, fs in routes.items()} == {
        "flow": sorted([*files["conn"], shared_datasets / RITA_JSON / "conn.log"]),
        "dns": sorted([*files["dns"], shared_datasets / RITA_JSON / "dns.log"]),
        "proxy": sorted([*files["http"], shared_datasets / RITA_JSON / "http.log"]),
    }
    assert skipped == Counter({"ssl": 2})
    assert zeek_routes(named, ["flow"])[1] == Counter({"ssl": 2, "dns": len(files["dns"]) + 1,
                                                      "http": len(files["http"]) + 1})
    # A quoted glob is searched as a folder is: the conn logs are taken, the rest counted by log.
    taken, skipped = of_type("flow", files_named([str(zeek_dir["folder"] / "*" / "*")]))
    assert sorted(f.path for f in taken) == sorted(files["conn"])
    assert skipped == Counter({"dns": len(files["dns"]), "http": len(files["http"]), "ssl": 1})


def cli_config(tmp_path: Path, start_date: str, home: str = "home") -> str:
    path = tmp_path / f"spot-{home}.toml"
    path.write_text(f'home = "{tmp_path / home}"\n[spark]\nmaster = "local[2]"\nshuffle_partitions = 2\n'
                    f'[ingest]\nsettle_seconds = 0\nworkers = 1\nstart_date = {start_date}\n')
    return str(path)


def test_spot_ingest_takes_a_zeek_folder_with_one_command(spark, zeek_dir, tmp_path, capsys):
    folder, files = zeek_dir["folder"], zeek_dir["files"]
    cfg = cli_config(tmp_path, "2022-01-01")
    lake = LakeResource(root=str(tmp_path / "home" / "lake"))

    assert main(["--config", cfg, "ingest", "flow", str(folder)]) == 0
    out = capsys.readouterr().out
    skipped = f"{len(files['dns'])} dns, {len(files['http'])} http, 1 ssl file(s)"
    assert f"flow: not ingested: {skipped} (not of a flow format)" in out
    expected = expected_days(files["conn"])
    for day, rows in expected.items():
        assert lake.day_rows("flow_events", day) == rows
        assert f"{day}: run" in out and "FAILED" not in out
    assert sum(expected.values()) == sum(len(data_lines(f)) for f in files["conn"])
    assert_raw_kept(lake, "flow", folder, expected)

    assert main(["--config", cfg, "ingest", "zeek", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "zeek: not ingested: 1 ssl file(s) (Spot ingests conn as flow, dns as dns, http as proxy)" in out
    assert "file(s) duplicate (seen before: not ingested twice)" in out
    assert "flow_raw" not in out  # the conn logs were decoded the first time: no run of their days again
    for log, data_type in (("dns", "dns"), ("http", "proxy")):
        expected = expected_days(files[log])
        assert sum(expected.values()) == sum(len(data_lines(f)) for f in files[log])
        for day, rows in expected.items():
            assert lake.day_rows(f"{data_type}_events", day) == rows
        assert sum(lake.day_rows(f"{data_type}_rejects", day) for day in expected) == 0
        assert_raw_kept(lake, data_type, folder, expected)


def test_captures_before_the_first_partition_are_named_before_any_run(spark, shared_datasets, tmp_path, capsys):
    """The choice: `spot ingest` refuses such a file with one line (file, time, the setting that admits
    it) before any run, and ingests the files beside it; with `ingest.start_date` moved back, the same
    command takes it."""
    captures = tmp_path / "captures"
    vm = captures / "1970-01-01" / "conn.00:00:00-01:00:00.log.gz"  # a VM whose clock was never set
    old = captures / "2022-06-12" / "dns.22:00:00-23:00:00.log"
    good = captures / "2022-06-13" / "conn.log"  # one log past midnight: the 14th has no file of its own
    for f in (vm, old, good):
        f.parent.mkdir(parents=True, exist_ok=True)
    vm.write_bytes(gzip.compress((shared_datasets / "slips-samples/port-scans-horizontal/conn.log").read_bytes()))
    shutil.copy(shared_datasets / "zeek-labeled/011-ctu-normal-43-day1/dns.log.labeled", old)
    shutil.copy(shared_datasets / LABELED / "conn.log.labeled", good)
    cfg = cli_config(tmp_path, "2022-06-13")

    assert main(["--config", cfg, "ingest", "zeek", str(captures)]) == 1
    out, err = capsys.readouterr()
    assert [line for line in err.splitlines() if line.startswith("spot:")] == [
        f"spot: not ingested: {vm}: its first event is at 1970-01-01 00:15:28 UTC (1970: the capturing machine's "
        "clock was not set), before the first partition 2022-06-13: set ingest.start_date to 1970-01-01 or "
        "earlier in spot.toml to ingest it",
        f"spot: not ingested: {old}: its first event is at 2022-06-12 22:34:59 UTC, before the first partition "
        "2022-06-13: set ingest.start_date to 2022-06-12 or earlier in spot.toml to ingest it",
    ]
    assert "flow 2022-06-13: 1 file(s) landed" in out and "FAILED" not in out
    lake = LakeResource(root=str(tmp_path / "home" / "lake"))
    expected = expected_days([good])
    assert sorted(expected) == [dt.date(2022, 6, 13), dt.date(2022, 6, 14)]
    for day, rows in expected.items():  # each day run and checked, the 14th for the rows that fell on it
        assert f"{day}: run" in out and lake.day_rows("flow_events", day) == rows
    assert not lake.exists(lake.path("raw", "dns"))
    assert [e.name for e in manifest.entries(lake, "flow", dt.date(2022, 6, 13))] == ["2022-06-13/conn.log"]

    assert main(["--config", cfg, "run", "--date", "1970-01-01"]) == 2  # nor does `spot run` start one for it
    assert capsys.readouterr().err.startswith("spot: 1970-01-01 is not a partition: they run from "
                                              "ingest.start_date (2022-06-13)")

    assert main(["--config", cli_config(tmp_path, "1970-01-01", "home70"), "ingest", "flow", str(vm)]) == 0
    lake = LakeResource(root=str(tmp_path / "home70" / "lake"))
    assert lake.day_rows("flow_events", dt.date(1970, 1, 1)) == len(data_lines(vm)) == 41
