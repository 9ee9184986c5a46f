"""`spot simulate`: network days with labeled attacks, written into the landing folders by the real tools.

    spot simulate --date 2024-07-08 [--days N] [--hosts H] [--flows F] [--seed S]
                  [--scenarios all|none|ID,ID...] [--set ID.FIELD=VALUE ...]
                  [--proxy-format elff|squid] [--out DIR] [--labels DIR]

Captures go to ``<landing>/<type>/`` (the configured landing root, or ``--out DIR``), where the
ingest's sensors pick them up; labels to ``--labels DIR``, by default ``DIR/labels`` with ``--out``
and ``<home>/labels`` otherwise (never a landing folder).
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
from pathlib import Path

from resources.config import SpotConfig
from spot_assets.simulation import scenarios
from spot_assets.simulation.simulator import Settings, Simulator, total_seconds
from spot_assets.simulation.writers import PROXY_FORMATS
from spot_cli.arguments import date, positive


def scenario_ids(text: str) -> list[str]:
    if text == "all":
        return list(scenarios.SCENARIOS)
    return [] if text in ("", "none") else [s.strip() for s in text.split(",") if s.strip()]


def nfpcapd_path(cfg: SpotConfig) -> str:
    """nfpcapd beside the configured nfdump (the same package ships both)."""
    nfdump = Path(cfg.ingest.nfdump)
    return str(nfdump.with_name("nfpcapd")) if nfdump.parent != Path(".") else "nfpcapd"


def cmd_simulate(cfg: SpotConfig, args) -> int:
    if shutil.which(nfpcapd_path(cfg)) is None:
        raise ValueError(f"{nfpcapd_path(cfg)} not found: install nfdump (it ships nfpcapd)")
    settings = Settings(hosts=args.hosts, flows=args.flows, seed=args.seed, proxy_format=args.proxy_format,
                        scenarios=tuple(scenarios.configure(scenario_ids(args.scenarios), args.set or [])))
    out = Path(args.out).resolve() if args.out else cfg.landing_root
    labels_root = Path(args.labels).resolve() if args.labels else (out / "labels" if args.out else cfg.home_path / "labels")
    simulator = Simulator(settings, nfpcapd_path(cfg))
    names = ", ".join(s.id for s in settings.scenarios) or "none"
    print(f"simulating {args.days} day(s) from {args.date}: {settings.hosts} hosts, {settings.flows} flows a day, "
          f"seed {settings.seed}, scenarios: {names}")
    for k in range(args.days):
        result = simulator.day(args.date + dt.timedelta(days=k), out, labels_root)
        seconds = total_seconds(result)
        files = ", ".join(f"{t} {len(fs)}" for t, fs in result.files.items())
        print(f"{result.day}: {result.events['flow']} flows, {result.events['dns']} DNS lookups, "
              f"{result.events['proxy']} proxy requests -> {out} ({files} files), labels in {labels_root}; "
              f"{seconds:.1f} s ({result.events['flow'] / seconds:,.0f} flows/s)")
    return 0


def register(subparsers) -> None:
    """Add the `simulate` subcommand to the `spot` parser."""
    p = subparsers.add_parser("simulate", help="write simulated, labeled network days into the landing folders",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--date", type=date, required=True, help="first day (YYYY-MM-DD)")
    p.add_argument("--days", type=positive, default=1)
    p.add_argument("--hosts", type=positive, default=Settings.hosts, help="hosts in the organisation")
    p.add_argument("--flows", type=positive, default=Settings.flows, help="flows a day, exactly")
    p.add_argument("--seed", type=int, default=Settings.seed)
    p.add_argument("--scenarios", default="all",
                   help=f"all, none, or ids separated by commas: {', '.join(scenarios.SCENARIOS)}")
    p.add_argument("--set", action="append", metavar="ID.FIELD=VALUE", help="a scenario parameter (repeatable)")
    p.add_argument("--proxy-format", choices=PROXY_FORMATS, default="elff")
    p.add_argument("--out", help="write DIR/<type>/ instead of the configured landing folders")
    p.add_argument("--labels", help="labels folder (default: DIR/labels with --out, else <home>/labels)")
    p.set_defaults(fn=cmd_simulate)
