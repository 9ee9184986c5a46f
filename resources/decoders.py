"""The native decoders' settings and the worker pool that runs them, one file per process.

Files are decoded in parallel across worker processes; each worker streams its tool's output, so
memory is bounded by one file's rows per worker, not by the day.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

import dagster as dg

from resources.tools import Tools, check_tool

T = TypeVar("T")
R = TypeVar("R")


class DecoderResource(dg.ConfigurableResource):
    nfdump: str = "nfdump"
    tshark: str = "tshark"
    editcap: str = "editcap"
    workers: int = 0  # 0: one per core
    dns_engine: str = "native"
    tshark_chunk_packets: int = 500_000

    def tools(self, needed: Iterable[str]) -> Tools:
        """The configured tools, the ``needed`` ones located and checked (what a type's formats run:
        `formats.tools_needed`)."""
        located = {name: check_tool(name, getattr(self, name)) for name in needed}
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
