import datetime as dt

import pyarrow as pa
import pyarrow.dataset as ds

from resources.lake import LakeResource, day_path, hour_path

DAY = dt.date(2024, 3, 5)
SCHEMA = pa.schema([("a", pa.int64()), ("b", pa.string())])


def table(*values):
    return pa.table({"a": list(values), "b": [str(v) for v in values]}, schema=SCHEMA)


def test_layout_is_zero_padded_hive(tmp_path):
    assert day_path(DAY) == "y=2024/m=03/d=05"
    assert hour_path(DAY, 7) == "y=2024/m=03/d=05/h=07"
    lake = LakeResource(root=str(tmp_path))
    path = lake.write_part("flow_events", DAY, "abc", table(1), hour=7)
    assert path == f"{tmp_path}/flow_events/y=2024/m=03/d=05/h=07/part-abc.parquet"


def test_parts_keyed_by_source_replace_instead_of_adding(tmp_path):
    lake = LakeResource(root=str(tmp_path))
    lake.write_part("t", DAY, "f1", table(1, 2), hour=0)
    lake.write_part("t", DAY, "f2", table(3), hour=1)
    lake.write_part("t", DAY, "f1", table(9), hour=0)  # the same source again
    assert sorted(lake.read_day("t", DAY, SCHEMA)["a"].to_pylist()) == [3, 9]
    assert not [p for p in (tmp_path / "t").rglob("*") if p.name.startswith(".tmp")]


def test_read_day_pushes_filters_and_absent_days_are_empty(tmp_path):
    lake = LakeResource(root=str(tmp_path))
    lake.write_part("t", DAY, "f1", table(1, 2, 3), hour=4)
    got = lake.read_day("t", DAY, SCHEMA, columns=["a"], filter=ds.field("a") >= 2)
    assert got.column_names == ["a"] and got["a"].to_pylist() == [2, 3]
    assert lake.read_day("t", dt.date(2024, 3, 6), SCHEMA).num_rows == 0


def test_hidden_and_temporary_files_are_invisible(tmp_path):
    lake = LakeResource(root=str(tmp_path))
    lake.write_part("t", DAY, "f1", table(1))
    folder = tmp_path / "t" / day_path(DAY)
    (folder / ".tmp-123-part-x.parquet").write_bytes(b"half a file")
    (folder / "_SUCCESS").write_text("")
    assert [p.rsplit("/", 1)[1] for p in lake.day_files("t", DAY)] == ["part-f1.parquet"]


def test_replace_day_keeps_one_part(tmp_path):
    lake = LakeResource(root=str(tmp_path))
    lake.write_part("s", DAY, "old", table(1))
    lake.replace_day("s", DAY, table(5, 6))
    assert lake.read_day("s", DAY, SCHEMA)["a"].to_pylist() == [5, 6]
    assert len(lake.day_files("s", DAY)) == 1


def test_days_spark_paths_and_json(tmp_path):
    lake = LakeResource(root=str(tmp_path))
    lake.write_part("t", DAY, "f", table(1), hour=2)
    lake.write_part("t", dt.date(2024, 3, 7), "f", table(1), hour=2)
    assert lake.days("t") == [DAY, dt.date(2024, 3, 7)]
    assert lake.spark_day_paths("t", DAY) == [f"{tmp_path}/t/y=2024/m=03/d=05/h=02/part-f.parquet"]
    lake.write_json(lake.path("x", "a.json"), {"k": 1})
    assert lake.read_json(lake.path("x", "a.json")) == {"k": 1}
    assert lake.read_json(lake.path("x", "missing.json")) is None


def test_uri_roots_keep_their_scheme_for_spark():
    lake = LakeResource(root="hdfs://namenode:8020/spot")
    assert lake.uri("flow_events", "y=2024") == "hdfs://namenode:8020/spot/flow_events/y=2024"
