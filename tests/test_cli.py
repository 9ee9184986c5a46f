"""`spot export` and `spot config` as a user runs them (in-process `main`)."""

import datetime as dt

import pyarrow as pa
import pyarrow.csv as pacsv

from resources.lake import LakeResource
from spot_assets import schemas
from spot_assets.datatypes import DATA_TYPES
from spot_cli.main import main

DAY = dt.date(2024, 7, 8)


def config(tmp_path):
    path = tmp_path / "spot.toml"
    path.write_text('home = "home"\n')
    return str(path)


def test_csv_export_neutralises_formulas_and_keeps_values(tmp_path):
    cfg = config(tmp_path)
    lake = LakeResource(root=str(tmp_path / "home" / "lake"))
    rows = pa.table({"ts": pa.array([1720396800000, 1720396801000], schemas.TS),
                     "clientip": ["10.0.0.1", "10.0.0.2"], "host": ["=HYPERLINK(\"x\")", "example.com"],
                     "useragent": ["@SUM(1)", "Mozilla/5.0"], "record": [1, 2], "source_file": ["f", "f"]})
    lake.write_part("proxy_events", DAY, "f", schemas.conform(rows, DATA_TYPES["proxy"].events), hour=0)
    out = tmp_path / "events.csv"
    assert main(["--config", cfg, "export", "proxy", "--date", DAY.isoformat(), "--table", "events",
                 "--out", str(out)]) == 0
    table = pacsv.read_csv(out)
    assert table["host"].to_pylist() == ["'=HYPERLINK(\"x\")", "example.com"]
    assert table["useragent"].to_pylist() == ["'@SUM(1)", "Mozilla/5.0"]


def test_missing_day_and_bad_suffix_are_clear_errors(tmp_path, capsys):
    cfg = config(tmp_path)
    assert main(["--config", cfg, "export", "flow", "--date", "2024-07-09", "--table", "scores",
                 "--out", str(tmp_path / "x.csv")]) == 2
    assert "flow_scores has no data for 2024-07-09" in capsys.readouterr().err
    assert main(["--config", cfg, "export", "flow", "--date", "2024-07-09", "--table", "storyboard",
                 "--out", str(tmp_path / "x.csv")]) == 2
    assert "exports as .json" in capsys.readouterr().err
