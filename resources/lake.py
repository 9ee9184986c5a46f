"""The lake: the one place that knows where every table, raw file and manifest lives.

Layout under the lake root (a local path, ``hdfs://`` or ``s3a://``):

    <table>/y=YYYY/m=MM/d=DD/h=HH/part-<file id>.parquet   hourly tables (the decoded events)
    <table>/y=YYYY/m=MM/d=DD/part-<key>.parquet            daily tables (rejects, summaries, ...)
    raw/<type>/y=YYYY/m=MM/d=DD/<file id>__<name>          raw zone, byte for byte
    raw/<type>/y=YYYY/m=MM/d=DD/_manifest/<file id>.json   one manifest entry per raw file
    raw/<type>/_ids/<sha256>.json                           which day holds a file already ingested
    quarantine/<type>/y=YYYY/m=MM/d=DD/<file id>__<name>   files that could not be decoded at all
    storyboard/<type>/y=YYYY/m=MM/d=DD/                      a day's storyboard artifacts (JSON)

Month, day and hour are zero-padded (Spot left the choice to Hive's type normalisation, spec §1.4).
Every write goes to a hidden temporary name first and is then renamed into place, so a reader never
sees half a file and a failed run leaves the previous version intact. Readers skip hidden names.
Bytes are written and read as they are: pyarrow's streams would otherwise (de)compress by the name's
suffix, and a landed ``conn.log.gz`` would be stored gzipped twice.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Callable, Iterator

import dagster as dg
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq


def day_path(day: dt.date) -> str:
    return f"y={day.year:04d}/m={day.month:02d}/d={day.day:02d}"


def hour_path(day: dt.date, hour: int) -> str:
    return f"{day_path(day)}/h={hour:02d}"


def _is_hidden(name: str) -> bool:
    return name.startswith((".", "_"))


class LakeResource(dg.ConfigurableResource):
    """Parquet tables and the raw zone, read and written through pyarrow's filesystems."""

    root: str

    # ----- filesystem

    @property
    def _fs_and_base(self) -> tuple[pafs.FileSystem, str]:
        if "://" not in self.root:
            base = Path(self.root).expanduser().resolve()
            return pafs.LocalFileSystem(), str(base)
        # Spark spells S3 `s3a://`; pyarrow knows the same buckets as `s3://`.
        uri = "s3://" + self.root[len("s3a://"):] if self.root.startswith("s3a://") else self.root
        return pafs.FileSystem.from_uri(uri)

    @property
    def fs(self) -> pafs.FileSystem:
        return self._fs_and_base[0]

    def path(self, *parts: str) -> str:
        return "/".join([self._fs_and_base[1].rstrip("/"), *parts])

    def uri(self, *parts: str) -> str:
        """The same location as Spark should be told it (the configured scheme kept)."""
        return "/".join([self.root.rstrip("/"), *parts]) if "://" in self.root else self.path(*parts)

    def spark_uri(self, path: str) -> str:
        """A filesystem path of this lake (as `path` returns it) as Spark should be told it."""
        return self.uri(path[len(self._fs_and_base[1].rstrip("/")) + 1:])

    def exists(self, path: str) -> bool:
        return self.fs.get_file_info(path).type != pafs.FileType.NotFound

    def listdir(self, path: str) -> list[str]:
        """Visible entries of a folder (no hidden or temporary names); empty when it is absent."""
        if not self.exists(path):
            return []
        infos = self.fs.get_file_info(pafs.FileSelector(path, recursive=False))
        return sorted(i.path for i in infos if not _is_hidden(i.base_name))

    def _atomic_target(self, path: str) -> str:
        parent, name = path.rsplit("/", 1)
        self.fs.create_dir(parent, recursive=True)
        return f"{parent}/.tmp-{uuid.uuid4().hex}-{name}"

    def delete(self, path: str) -> None:
        info = self.fs.get_file_info(path)
        if info.type == pafs.FileType.Directory:
            self.fs.delete_dir(path)
        elif info.type == pafs.FileType.File:
            self.fs.delete_file(path)

    # ----- bytes and JSON

    def put_file(self, local: Path, path: str) -> None:
        tmp = self._atomic_target(path)
        with open(local, "rb") as src, self.fs.open_output_stream(tmp, compression=None) as dst:
            shutil.copyfileobj(src, dst, length=4 << 20)
        self.fs.move(tmp, path)

    def move(self, src: str, dst: str) -> None:
        self.fs.create_dir(dst.rsplit("/", 1)[0], recursive=True)
        self.fs.move(src, dst)

    @contextlib.contextmanager
    def local_copy(self, path: str) -> Iterator[Path]:
        """A local path for a lake file, for tools (nfdump, tshark) that only read local files."""
        if isinstance(self.fs, pafs.LocalFileSystem):
            yield Path(path)
            return
        with tempfile.TemporaryDirectory(prefix="spot-") as tmp:
            local = Path(tmp) / path.rsplit("/", 1)[1]
            with self.fs.open_input_stream(path, compression=None) as src, open(local, "wb") as dst:
                shutil.copyfileobj(src, dst, length=4 << 20)
            yield local

    def write_json(self, path: str, obj: dict) -> None:
        tmp = self._atomic_target(path)
        with self.fs.open_output_stream(tmp, compression=None) as out:
            out.write(json.dumps(obj, indent=1, sort_keys=True, default=str).encode())
        self.fs.move(tmp, path)

    def read_json(self, path: str) -> dict | None:
        if not self.exists(path):
            return None
        with self.fs.open_input_stream(path, compression=None) as f:
            return json.loads(f.read())

    # ----- Zones of files: raw captures and their manifest, quarantine, storyboards

    def raw_dir(self, data_type: str, day: dt.date) -> str:
        return self.path("raw", data_type, day_path(day))

    def raw_file(self, data_type: str, day: dt.date, file_id: str, name: str) -> str:
        return f"{self.raw_dir(data_type, day)}/{file_id}__{name}"

    def manifest_dir(self, data_type: str, day: dt.date) -> str:
        return f"{self.raw_dir(data_type, day)}/_manifest"

    def manifest_file(self, data_type: str, day: dt.date, key: str) -> str:
        return f"{self.manifest_dir(data_type, day)}/{key}.json"

    def content_index(self, data_type: str, sha256: str) -> str:
        """Where the day of a file already ingested is found by its content."""
        return self.path("raw", data_type, "_ids", f"{sha256}.json")

    def quarantine_file(self, data_type: str, day: dt.date, name: str) -> str:
        return self.path("quarantine", data_type, day_path(day), name)

    def storyboard_dir(self, data_type: str, day: dt.date) -> str:
        return self.path("storyboard", data_type, day_path(day))

    # ----- Parquet tables

    def table_dir(self, table: str, day: dt.date, hour: int | None = None) -> str:
        return self.path(table, day_path(day) if hour is None else hour_path(day, hour))

    def write_part(self, table: str, day: dt.date, key: str, data: pa.Table, hour: int | None = None) -> str:
        """Write (or replace) one part file; the key names its source, so a re-run replaces, never adds."""
        path = f"{self.table_dir(table, day, hour)}/part-{key}.parquet"
        tmp = self._atomic_target(path)
        pq.write_table(data, tmp, filesystem=self.fs, compression="zstd")
        self.fs.move(tmp, path)
        return path

    def delete_part(self, table: str, day: dt.date, key: str, hour: int | None = None) -> None:
        self.delete(f"{self.table_dir(table, day, hour)}/part-{key}.parquet")

    def replace_day(self, table: str, day: dt.date, data: pa.Table) -> str:
        """Replace a daily table's partition whole with one part file."""
        folder = self.table_dir(table, day)
        for old in self.listdir(folder):
            if old.rsplit("/", 1)[1] != "part-0.parquet":
                self.delete(old)
        return self.write_part(table, day, "0", data)

    def replace_day_from(self, table: str, day: dt.date, write: Callable[[str], None]) -> None:
        """Replace a daily table's partition whole with what ``write`` puts at the URI it is given.

        For writers that make a folder of their own (Spark): the folder is written under a hidden
        name beside the day, then swapped in, so readers see the old day or the new one, never half.
        """
        final = self.table_dir(table, day)
        parent, name = final.rsplit("/", 1)
        token = uuid.uuid4().hex
        staging, old = f"{parent}/.tmp-{token}-{name}", f"{parent}/.old-{token}-{name}"
        self.fs.create_dir(parent, recursive=True)
        write(self.spark_uri(staging))
        if self.exists(final):
            self.fs.move(final, old)
        self.fs.move(staging, final)
        self.delete(old)

    def day_files(self, table: str, day: dt.date) -> list[str]:
        """Every visible Parquet part of one day, hourly or daily."""
        folder = self.table_dir(table, day)
        files = []
        for entry in self.listdir(folder):
            if entry.endswith(".parquet"):
                files.append(entry)
            elif entry.rsplit("/", 1)[1].startswith("h="):
                files.extend(e for e in self.listdir(entry) if e.endswith(".parquet"))
        return files

    def day_rows(self, table: str, day: dt.date) -> int:
        """Rows of one day, from the Parquet footers alone."""
        return sum(pq.read_metadata(f, filesystem=self.fs).num_rows for f in self.day_files(table, day))

    def read_day(self, table: str, day: dt.date, schema: pa.Schema | None = None, columns: list[str] | None = None,
                 filter: ds.Expression | None = None) -> pa.Table:
        """One day of a table as Arrow, with filter push-down. An absent day reads as zero rows of
        ``schema``; without a schema (tables Spark writes) it raises FileNotFoundError instead."""
        files = self.day_files(table, day)
        if not files:
            if schema is None:
                raise FileNotFoundError(f"{table} has no data for {day}")
            empty = schema.empty_table()
            return empty.select(columns) if columns else empty
        dataset = ds.dataset(files, schema=schema, filesystem=self.fs, format="parquet")
        return dataset.to_table(columns=columns, filter=filter)

    def spark_day_paths(self, table: str, day: dt.date) -> list[str]:
        """The day's part files as Spark should read them (explicit files: no partition discovery)."""
        return [self.spark_uri(f) for f in self.day_files(table, day)]

    def days(self, table: str) -> list[dt.date]:
        """The days a table has data for, in order."""
        out = []
        for y in self.listdir(self.path(table)):
            for m in self.listdir(y):
                for d in self.listdir(m):
                    parts = [p.rsplit("=", 1)[1] for p in (y, m, d)]
                    out.append(dt.date(*map(int, parts)))
        return out
