"""Detection quality of every order a day has, with `spot evaluate`'s metrics: Spot's LDA order
(``lda``), the fused priority list (``priority``) and each behaviour detector's own list, judged on
the same events (an event takes the rank of the best row that covers it), on:

    python bench/detection.py [--work /tmp/spot-bench-detection] [--datasets ../shared/datasets]
                              [--flows 200000] [--hosts 1000] [--seed 7] [--only sim,iot23,dns,zeek,dga]

(a) sim: two simulated days (every scenario, fixed seed) through the whole graph (`spot run`),
    each type of each day evaluated against the simulator's labels.
(b) iot23: `iot23-labeled-conn`, captures 20-1, 21-1, 42-1 (0.1-0.5 % malicious flows), 8-1 and 34-1
    (mostly malicious). Each capture's conn log is ingested alone (`spot ingest flow FILE`, Zeek
    TSV or CSV), in its own home, and scored; labels come from the file's own `label` column
    (Malicious -> 1, Benign -> 0, case-insensitive; any other value stops the run and is shown), joined
    on the Zeek `uid`.
(c) dns: each pcap of `dns-pcaps` (DNS tunnels) moved in time with `editcap -t` onto a benign simulated
    DNS day (`--scenarios none`) and ingested with it; every DNS response of the tunnel pcap is an
    attack (label 1, by file and packet number, as tshark numbers them), every simulated one benign.

(d) zeek: `zeek-labeled`, two days of a Windows host attacked from the Internet; both conn logs in one
    home, each UTC day they cover evaluated (Malicious -> 1; Benign and Background -> 0), joined on uid.
(e) dga: the shipped DGA model on the `domain-lists/dga` families it was not trained on against the
    top sites it was not trained on (see scripts/train_dga.py for the split).

A dataset folder that is absent is reported as "skipped: <path> absent". The numbers are reported
as they are; thresholds were chosen from principles before these runs, not fitted to them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pyarrow.csv as pacsv  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from bench._harness import ML_ASSETS, REPO, run_assets, spot, write_config  # noqa: E402
from resources.lake import LakeResource  # noqa: E402
from spot_assets.ml.evaluate import evaluate  # noqa: E402

DAY = dt.date(2024, 7, 8)
IOT23_CAPTURES = ("20-1", "21-1", "42-1", "8-1", "34-1")
LABELS = {"malicious": 1, "benign": 0, "background": 0}
COLUMNS = ("events", "positives", "roc_auc", "average_precision", "precision_at_10", "precision_at_50",
           "precision_at_100", "recall_at_1pct")
DETECT_ASSETS = (*ML_ASSETS, "{t}_findings", "{t}_priority")
SCENARIOS: list[dict] = []  # per-scenario AUC rows, filled as days are evaluated


def rows_of(dataset: str, case: str, data_type: str, day: dt.date, report: dict) -> list[dict]:
    """A row per order of the report: lda, priority, then each detector."""
    head = {"dataset": dataset, "case": case, "type": data_type, "day": day.isoformat()}
    orders = [("lda", report), *([("priority", report["priority"])] if "priority" in report else []),
              *report.get("detectors", {}).items()]
    for name, aucs in report.get("scenarios", {}).items():
        SCENARIOS.append({**head, "scenario": name, **aucs})
    return [{**head, "order": name, **{k: r[k] for k in COLUMNS}} for name, r in orders]


def evaluate_day(home: Path, data_type: str, day: dt.date, labels: pa.Table) -> dict:
    return evaluate(LakeResource(root=str(home / "lake")), data_type, day, labels)


# ----- (a) simulated days

def simulated(work: Path, flows: int, hosts: int, seed: int) -> list[dict]:
    home = work / "sim"
    config = write_config(work / "sim.toml", home)
    days = [DAY, DAY + dt.timedelta(days=1)]
    spot(config, "simulate", "--date", DAY, "--days", 2, "--flows", flows, "--hosts", hosts, "--seed", seed,
         "--scenarios", "all")
    rows = []
    for day in days:
        spot(config, "run", "--date", day)
        for data_type in ("flow", "dns", "proxy"):
            labels = pq.read_table(home / "labels" / data_type / f"{day}.parquet")
            report = evaluate_day(home, data_type, day, labels)
            rows += rows_of("sim", f"seed {seed}, {flows} flows", data_type, day, report)
    return rows


# ----- (b) IoT-23 labeled conn logs

def capture_files(root: Path, capture: str) -> list[Path]:
    """The conn logs of one capture (e.g. 8-1 and not 18-1), in any layout under ``root``."""
    pattern = re.compile(rf"(?<!\d){re.escape(capture)}(?!\d)")
    return sorted(p for p in root.rglob("*") if p.is_file() and "conn" in p.name.lower()
                  and pattern.search(str(p.relative_to(root))))


def _lines(path: Path) -> list[str]:
    with pa.input_stream(str(path), compression="detect") as stream:
        return stream.read().decode("utf-8", errors="replace").splitlines()


def zeek_labels(path: Path) -> pa.Table:
    """(uid, label) from a labeled conn log: Zeek TSV (IoT-23's three-space quirk included) or CSV."""
    lines = _lines(path)
    fields = next((re.split(r"\t| {2,}", line)[1:] for line in lines if line.startswith("#fields")), None)
    if fields is not None:
        data = pa.array([line for line in lines if line and not line.startswith("#")], pa.string())
        parts = pc.split_pattern_regex(data, r"\t| {3}")
        table = pa.table({name: pc.list_element(parts, i) for i, name in enumerate(fields)
                          if name.lower() in ("uid", "label")})
    else:
        header = lines[0]
        delimiter = max(",\t|;", key=header.count)
        table = pacsv.read_csv(path, parse_options=pacsv.ParseOptions(delimiter=delimiter))
    names = {n.lower(): n for n in table.column_names}
    if not {"uid", "label"} <= set(names):
        raise ValueError(f"{path}: no uid and label columns (found {table.column_names})")
    text = pc.utf8_lower(pc.utf8_trim_whitespace(table[names["label"]]))
    unknown = pc.unique(pc.filter(text, pc.invert(pc.is_in(text, pa.array(list(LABELS)))))).to_pylist()
    if unknown:
        raise ValueError(f"{path}: label values other than {list(LABELS)}: {unknown[:10]}")
    label = pc.cast(pc.equal(text, "malicious"), pa.int64())
    return pa.table({"uid": table[names["uid"]], "label": label})


def iot23(work: Path, root: Path) -> list[dict]:
    rows = []
    for capture in IOT23_CAPTURES:
        files = capture_files(root, capture)
        if not files:
            print(f"  skipped: no conn log for capture {capture} under {root}")
            continue
        path = files[0]  # one format per capture is enough (a TSV and its CSV copy hold the same flows)
        home = work / "iot23" / capture
        config = write_config(work / "iot23" / f"{capture}.toml", home)
        spot(config, "ingest", "flow", path)
        days = LakeResource(root=str(home / "lake")).days("flow_events")  # the capture's own home: its days
        labels = zeek_labels(path)
        for day in days:
            run_assets(config, day, "flow", DETECT_ASSETS)
            rows += rows_of("iot23", f"{capture} ({path.name})", "flow", day, evaluate_day(home, "flow", day, labels))
    return rows


# ----- (d) zeek-labeled: two days of an attacked Windows host

def zeek_labeled(work: Path, root: Path) -> list[dict]:
    logs = sorted(root.glob("*/conn.log.labeled"))
    if not logs:
        print(f"  skipped: no conn.log.labeled under {root}")
        return []
    home = work / "zeek-labeled"
    config = write_config(work / "zeek-labeled.toml", home)
    spot(config, "ingest", "flow", *logs)
    labels = pa.concat_tables([zeek_labels(p) for p in logs])
    rows = []
    for day in LakeResource(root=str(home / "lake")).days("flow_events"):
        run_assets(config, day, "flow", DETECT_ASSETS)
        rows += rows_of("zeek", "conn, " + ", ".join(p.parent.name[:3] for p in logs), "flow", day,
                        evaluate_day(home, "flow", day, labels))
    return rows


# ----- (e) DGA names of unseen families

def dga(root: Path) -> list[dict]:
    """The shipped model (not a retrained one) on the families and top sites its training left out."""
    from scripts.train_dga import evaluate as held_out, load as split
    from spot_assets.detect import dga as model

    report = held_out(model.load(), split(root.parent))
    print(f"  held-out DGA AUC {report['held_out_auc']:.4f} (families {', '.join(report['held_out_families_auc'])}); "
          f"scoring >= 0.9: {report['held_out_dga_share_scoring_at_least']['0.9']:.1%} of their names, "
          f"{report['held_out_top_sites_share_scoring_at_least']['0.9']:.2%} of held-out top sites")
    return []


# ----- (c) DNS tunnels mixed into a benign DNS day

def _first_packet(path: Path) -> float:
    out = subprocess.run(["capinfos", "-T", "-r", "-S", "-a", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return float(out.strip().splitlines()[-1].split("\t")[-1])


def tunnel_onto(path: Path, day: dt.date, out: Path) -> Path:
    """``path`` moved so that it starts at noon of ``day``, as classic pcap (what the ingest reads best)."""
    start = dt.datetime.combine(day, dt.time(12), dt.timezone.utc).timestamp()
    moved = out / f"tunnel-{path.stem}.pcap"
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(["editcap", "-F", "pcap", "-t", f"{start - _first_packet(path):.6f}", str(path), str(moved)],
                   check=True, capture_output=True)
    return moved


def tunnel_labels(path: Path) -> pa.Table:
    """Every DNS response of ``path`` is an attack, by file name and packet number."""
    out = subprocess.run(["tshark", "-r", str(path), "-Y", "dns.flags.response == 1",
                          "-T", "fields", "-e", "frame.number"],
                         capture_output=True, text=True, check=True).stdout
    records = [int(x) for x in out.split()]
    return pa.table({"file": pa.array([path.name] * len(records), pa.string()),
                     "record": pa.array(records, pa.int64()), "label": pa.array([1] * len(records), pa.int64())})


def dns_tunnels(work: Path, root: Path, flows: int, hosts: int, seed: int) -> list[dict]:
    pcaps = sorted(p for p in root.rglob("*") if p.is_file() and re.search(r"\.(pcap|pcapng|cap)(\.gz)?$", p.name))
    if not pcaps:
        print(f"  skipped: no pcap under {root}")
        return []
    benign = work / "dns" / "benign"
    if not (benign / "labels" / "dns" / f"{DAY}.parquet").exists():
        spot(write_config(work / "dns" / "simulate.toml", work / "dns" / "simhome"), "simulate", "--date", DAY,
             "--flows", flows, "--hosts", hosts, "--seed", seed, "--scenarios", "none", "--out", benign)
    benign_labels = pq.read_table(benign / "labels" / "dns" / f"{DAY}.parquet").select(["file", "record", "label"])
    benign_labels = benign_labels.cast(pa.schema([("file", pa.string()), ("record", pa.int64()),
                                                  ("label", pa.int64())]))
    rows = []
    for pcap in pcaps:
        home = work / "dns" / pcap.stem
        config = write_config(work / "dns" / f"{pcap.stem}.toml", home)
        moved = tunnel_onto(pcap, DAY, home / "tunnel")
        spot(config, "ingest", "dns", *sorted((benign / "dns").iterdir()), moved)
        run_assets(config, DAY, "dns", DETECT_ASSETS)
        labels = pa.concat_tables([benign_labels, tunnel_labels(moved)])
        rows += rows_of("dns-pcaps", pcap.name, "dns", DAY, evaluate_day(home, "dns", DAY, labels))
    return rows


def show(rows: list[dict]) -> str:
    head = (f"{'dataset':<9} {'case':<24} {'type':<5} {'day':<10} {'order':<16} {'events':>8} {'pos':>6} {'AUC':>6} "
            f"{'AP':>6} {'P@10':>5} {'P@50':>5} {'P@100':>5} {'R@1%':>5}")
    lines = [head]
    for r in rows:
        lines.append(f"{r['dataset']:<9} {r['case'][:24]:<24} {r['type']:<5} {r['day']:<10} {r['order'][:16]:<16} "
                     f"{r['events']:>8} {r['positives']:>6} {r['roc_auc']:6.3f} {r['average_precision']:6.3f} "
                     f"{r['precision_at_10']:5.2f} {r['precision_at_50']:5.2f} {r['precision_at_100']:5.2f} "
                     f"{r['recall_at_1pct']:5.3f}")
    if SCENARIOS:
        lines += ["", f"{'dataset':<9} {'case':<24} {'type':<5} {'day':<10} {'scenario':<20} {'lda AUC':>8} "
                      f"{'priority AUC':>12}"]
        lines += [f"{r['dataset']:<9} {r['case'][:24]:<24} {r['type']:<5} {r['day']:<10} {r['scenario'][:20]:<20} "
                  f"{r['lda']:8.3f} {r.get('priority', float('nan')):12.3f}" for r in SCENARIOS]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default="/tmp/spot-bench-detection")
    parser.add_argument("--datasets", default=str(REPO.parent / "shared" / "datasets"))
    parser.add_argument("--flows", type=int, default=200_000)
    parser.add_argument("--hosts", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", default="sim,iot23,dns,zeek,dga")
    args = parser.parse_args()
    work, datasets, only = Path(args.work), Path(args.datasets), set(args.only.split(","))
    rows = []
    if "sim" in only:
        print("(a) simulated days", flush=True)
        rows += simulated(work, args.flows, args.hosts, args.seed)
        print(show(rows), flush=True)
    for letter, name, folder, fn in (
            ("b", "iot23", "iot23-labeled-conn", lambda root: iot23(work, root)),
            ("c", "dns", "dns-pcaps/tunnel", lambda root: dns_tunnels(work, root, args.flows // 2, args.hosts, args.seed)),
            ("d", "zeek", "zeek-labeled", lambda root: zeek_labeled(work, root)),
            ("e", "dga", "domain-lists", dga)):
        if name not in only:
            continue
        root = datasets / folder
        print(f"({letter}) {folder}", flush=True)
        if not root.is_dir():
            print(f"  skipped: {root} absent")
            continue
        found = fn(root)
        if found:
            print(show(found), flush=True)
        rows += found
    print()
    print(show(rows) if rows else "no dataset evaluated")
    print("R@1% = recall among the first 1 % of the day's events; an event takes the rank of the best row covering it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
