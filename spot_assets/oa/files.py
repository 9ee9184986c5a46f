"""The small text files of operational analytics: context files an operator edits, and the tables shipped in ``data/``.

Context files are written by hand, so nothing in one of them stops a run: a configured file that does not
exist leaves its columns empty with one warning, and a line that cannot be read is skipped with a warning
naming the file and the line (the first ``MAX_LINE_WARNINGS`` of a file one by one, then a count).
In every file ``#`` starts a comment line and blank lines are ignored.
"""

from __future__ import annotations

import csv
import logging
from importlib import resources
from pathlib import Path
from typing import Iterator, Protocol

MAX_LINE_WARNINGS = 10


class Log(Protocol):
    """What the loaders need of a logger: Python's ``logging.Logger`` and Dagster's ``context.log`` both fit."""

    def warning(self, msg: str) -> None: ...


class Warnings:
    """Forwards warnings to a logger and keeps them, so an asset can also report them in its metadata."""

    def __init__(self, forward: Log | None = None):
        self.messages: list[str] = []
        self._forward = forward or logging.getLogger("spot.oa")

    def warning(self, msg: str) -> None:
        self.messages.append(msg)
        self._forward.warning(msg)


class BadLines:
    """The skipped lines of one file, reported without flooding the log when a whole file is wrong."""

    def __init__(self, path: Path, log: Log):
        self.path, self.log, self.count = path, log, 0

    def add(self, line: int | None, reason: str) -> None:
        self.count += 1
        if self.count <= MAX_LINE_WARNINGS:
            self.log.warning(f"{self.path}:{line if line is not None else '?'}: {reason}; line skipped")

    def close(self) -> None:
        if self.count > MAX_LINE_WARNINGS:
            self.log.warning(f"{self.path}: {self.count - MAX_LINE_WARNINGS} more lines skipped")


def configured(path: str | None, what: str, log: Log) -> Path | None:
    """The file of an optional setting, or None: unset is normal, set but absent is worth a warning."""
    if not path:
        return None
    file = Path(path).expanduser()
    if not file.is_file():
        log.warning(f"{what} file {file} does not exist; its columns stay empty")
        return None
    return file


def rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(1-based line number, fields with surrounding blanks removed) of each line that is not a comment or blank."""
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            text = line.strip()
            if text and not text.startswith("#"):
                yield number, [field.strip() for field in next(csv.reader([text]))]


def shipped(name: str) -> list[dict[str, str]]:
    """The records of a CSV in ``data/``: provenance comment lines, then a header line."""
    text = resources.files("spot_assets.oa").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))
