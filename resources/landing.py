"""The landing folders that sensors watch and the raw asset empties (one folder per data type)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg

from spot_assets.ingest.formats import Tools
from spot_assets.ingest.landing import Unplaceable, complete_files, day_of


class LandingResource(dg.ConfigurableResource):
    root: str
    settle_seconds: float = 5.0

    def folder(self, data_type: str) -> Path:
        return Path(self.root) / data_type

    def complete(self, data_type: str) -> list[Path]:
        return complete_files(self.folder(data_type), self.settle_seconds)

    def files_of_day(self, data_type: str, day: dt.date, tools: Tools,
                     partitions: dg.TimeWindowPartitionsDefinition) -> list[Path]:
        """The complete files whose first event is on ``day``. A file that belongs to no day stays in
        the folder: the sensor names it in its log, and a run must not fail for it."""
        files = []
        for path in self.complete(data_type):
            try:
                if day_of(data_type, path, tools, partitions) == day:
                    files.append(path)
            except Unplaceable:
                continue
        return files
