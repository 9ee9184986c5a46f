"""The landing folders that sensors watch and the raw asset empties (one folder per data type)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from spot_assets.ingest.landing import complete_files


class LandingResource(dg.ConfigurableResource):
    root: str
    settle_seconds: float = 5.0

    def folder(self, data_type: str) -> Path:
        return Path(self.root) / data_type

    def complete(self, data_type: str) -> list[Path]:
        return complete_files(self.folder(data_type), self.settle_seconds)
