"""The native decoders (nfdump, tshark) and the worker pool that runs them, one file per process.

Tools are located and their versions checked before any file is touched, with a message that names
the Debian package to install. Files are decoded in parallel across worker processes; each worker
streams its tool's output, so memory is bounded by one file's rows per worker, not by the day.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import shutil
import subprocess
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

import dagster as dg

from spot_assets.ingest.formats import Tools

T = TypeVar("T")
R = TypeVar("R")

# tool -> (Debian package, version flag, version pattern, minimum version)
_REQUIREMENTS = {
    "nfdump": ("nfdump", "-V", r"(\d+)\.(\d+)\.(\d+)", (1, 7, 0)),
    "tshark": ("tshark", "--version", r"(\d+)\.(\d+)\.(\d+)", (3, 6, 0)),
    "editcap": ("tshark", "--version", r"(\d+)\.(\d+)\.(\d+)", (3, 6, 0)),
}
# The tools each data type cannot do without.
NEEDS = {"flow": ("nfdump",), "dns": ("tshark", "editcap"), "proxy": ()}


class ToolError(RuntimeError):
    pass


def check_tool(name: str, binary: str) -> str:
    """The tool's absolute path, after checking it runs and is recent enough."""
    package, flag, pattern, minimum = _REQUIREMENTS[name]
    path = shutil.which(binary)
    if path is None:
        raise ToolError(f"{name} not found ({binary!r}): install the Debian package '{package}' "
                        f"(apt-get install {package}) or set ingest.{name} in spot.toml")
    out = subprocess.run([path, flag], capture_output=True, text=True, timeout=30)
    match = re.search(pattern, out.stdout + out.stderr)
    if match is None or tuple(map(int, match.groups())) < minimum:
        found = match.group(0) if match else "unknown"
        raise ToolError(f"{name} at {path} is version {found}; Spot needs {'.'.join(map(str, minimum))} or newer")
    return path


class DecoderResource(dg.ConfigurableResource):
    nfdump: str = "nfdump"
    tshark: str = "tshark"
    editcap: str = "editcap"
    workers: int = 0  # 0: one per core
    dns_engine: str = "native"
    tshark_chunk_packets: int = 500_000

    def tools(self, data_type: str) -> Tools:
        located = {name: check_tool(name, getattr(self, name)) for name in NEEDS[data_type]}
        return Tools(
            nfdump=located.get("nfdump", self.nfdump), tshark=located.get("tshark", self.tshark),
            editcap=located.get("editcap", self.editcap), tshark_chunk_packets=self.tshark_chunk_packets,
            dns_engine=self.dns_engine,
        )

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """``fn`` over ``items`` in worker processes; results come back in the order of ``items``."""
        items = list(items)
        workers = min(self.workers or os.cpu_count() or 1, len(items))
        if workers <= 1:
            yield from map(fn, items)
            return
        # spawn: the caller may hold threads (Dagster, a JVM gateway) that fork would copy mid-state.
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            yield from pool.map(fn, items)
