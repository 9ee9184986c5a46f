"""The landing folders that sensors watch (one folder per data type), and which of their files are complete.

A file is taken only when it is complete: writers either rename on completion (temporary names are
never taken) or stop changing it for ``settle_seconds``.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import dagster as dg

# nfcapd writes `nfcapd.current.<pid>` while collecting; editors and copies write dot-files and `.part`.
_TEMPORARY = re.compile(r"(^\.|\.current|\.part$|\.tmp$|\.partial$|~$)")


def is_complete(path: Path, settle_seconds: float, now: float | None = None) -> bool:
    if _TEMPORARY.search(path.name) or not path.is_file():
        return False
    return (now or time.time()) - path.stat().st_mtime >= settle_seconds


def complete_files(folder: Path, settle_seconds: float) -> list[Path]:
    if not folder.is_dir():
        return []
    now = time.time()
    return sorted(p for p in folder.iterdir() if is_complete(p, settle_seconds, now))


class LandingResource(dg.ConfigurableResource):
    root: str
    settle_seconds: float = 5.0

    def folder(self, data_type: str) -> Path:
        return Path(self.root) / data_type

    def complete(self, data_type: str) -> list[Path]:
        return complete_files(self.folder(data_type), self.settle_seconds)
