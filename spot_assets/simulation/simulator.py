"""One simulated day end to end: background plus attacks, then captures, then labels.

The day's flow count is exact: attacks come first and the background fills the rest of ``flows``.
Flows go through nfpcapd (in a hidden work folder beside the landing folders, so the finished
nfcapd files are renamed into place); DNS pcaps and proxy logs are written directly. Everything
random is drawn from generators named after their purpose (`rand`), so a seed always gives the same
day and switching one scenario leaves the rest of the day as it was.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa


from spot_assets.simulation import domains, flows, labels, network, rand, writers
from spot_assets.simulation.activity import Activity
from spot_assets.simulation.background import DAY_MS, Background, day_start_ms
from spot_assets.simulation.dns import MessageBook
from spot_assets.simulation.network import OrgConfig
from spot_assets.simulation.scenarios import Context, Scenario

SAFETY_MS = 5_000  # the latest event ends this long before midnight


@dataclass(frozen=True)
class Settings:
    hosts: int = 500
    flows: int = 100_000
    seed: int = 0
    scenarios: tuple[Scenario, ...] = ()
    proxy_format: str = "elff"
    ranges: tuple[str, ...] = OrgConfig.ranges
    domain: str = OrgConfig.domain


@dataclass
class DayResult:
    day: dt.date
    files: dict[str, list[Path]]
    labels: dict[str, Path]
    events: dict[str, int]  # flows, DNS responses (decoded rows), proxy lines
    packets: dict[str, int]  # flow packets written for nfpcapd, DNS packets
    seconds: dict[str, float] = field(default_factory=dict)


class Simulator:
    def __init__(self, settings: Settings, nfpcapd: str = "nfpcapd") -> None:
        self.settings = settings
        self.nfpcapd = nfpcapd
        doms = domains.load()
        self.org = network.build(OrgConfig(settings.hosts, settings.ranges, settings.domain, settings.seed), doms.weight)
        self.background = Background(self.org, doms, settings.seed)

    def activity(self, day: dt.date) -> Activity:
        """Everything that happens on ``day`` (attacks plus background), ephemeral ports assigned."""
        ctx = Context(self.background, day, self.settings.seed)
        attacks = sum((s.generate(ctx) for s in self.settings.scenarios), Activity.empty())
        if attacks.flow_count() > self.settings.flows:
            raise ValueError(f"the scenarios alone make {attacks.flow_count()} flows, more than the "
                             f"{self.settings.flows} asked for the day")
        act = _within_day(self.background.day(day, self.settings.flows - attacks.flow_count()) + attacks, day)
        act.connections = flows.assign_ports(act.connections, self.org)
        return act

    def day(self, day: dt.date, out: Path, labels_root: Path) -> DayResult:
        """Write ``day``'s captures into ``out/<type>/`` and its labels into ``labels_root/<type>/``."""
        clock = {"start": time.perf_counter()}
        act = self.activity(day)
        book = MessageBook()
        messages = book.add(act.lookups)
        day_flows = flows.flows(act, book.lengths(messages, False), book.lengths(messages, True), day_start_ms(day) + DAY_MS)
        clock["generate"] = time.perf_counter()
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=out, prefix=".simulate-") as work:
            nfcapd = writers.move_into(flows.nfcapd_files(day_flows, Path(work), self.nfpcapd), out / "flow")
        packets = {"flow": int(day_flows.pkts.sum()), "dns": 2 * act.lookups.num_rows}
        clock["flow"] = time.perf_counter()
        qids = rand.day_generator(self.settings.seed, day, "dns-ids").integers(0, 65536, act.lookups.num_rows)
        dns_files, dns_file_of, dns_record = writers.dns_pcaps(act.lookups, book, messages, qids, out / "dns", day)
        clock["dns"] = time.perf_counter()
        requests = act.requests.sort_by([("ts_ms", "ascending")])
        proxy_ip = int(self.org.ip[self.org.of_role("proxy")[0]])
        proxy_files, proxy_file_of, proxy_record = writers.proxy_logs(requests, out / "proxy", day, proxy_ip,
                                                                     self.settings.proxy_format)
        clock["proxy"] = time.perf_counter()
        tables = {
            "flow": labels.flow(day_flows),
            "dns": labels.dns(act.lookups, dns_file_of, dns_record),
            "proxy": labels.proxy(requests, proxy_file_of, proxy_record, self.settings.proxy_format),
        }
        written = {t: labels.write(table, labels_root / t / f"{day}.parquet") for t, table in tables.items()}
        clock["labels"] = time.perf_counter()
        steps = list(clock)
        return DayResult(
            day=day, files={"flow": nfcapd, "dns": dns_files, "proxy": proxy_files}, labels=written,
            events={"flow": len(day_flows), "dns": act.lookups.num_rows, "proxy": requests.num_rows},
            packets=packets, seconds={b: clock[b] - clock[a] for a, b in zip(steps, steps[1:])},
        )


def _within_day(act: Activity, day: dt.date) -> Activity:
    """Events that would spill over a midnight moved just inside the day, whole (with their answers
    and replies), so that every packet of a day's captures belongs to that day."""
    start = day_start_ms(day)
    end = start + DAY_MS - SAFETY_MS

    def clamp(table: pa.Table, latest: np.ndarray) -> pa.Table:
        ts = np.clip(table["ts_ms"].to_numpy(), start, latest)
        return table.set_column(table.schema.get_field_index("ts_ms"), "ts_ms", pa.array(ts, pa.int64()))

    def before(table: pa.Table, lasting: str) -> pa.Table:
        return clamp(table, end - table[lasting].to_numpy().astype(np.int64))

    return Activity(before(act.connections, "rtt_ms"), before(act.lookups, "delay_ms"),
                    before(act.requests, "time_taken"))


def total_seconds(result: DayResult) -> float:
    return sum(result.seconds.values())
