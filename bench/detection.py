"""Detection quality of Spot-faithful Suspicious Connects, with `spot evaluate`'s metrics, on:

    python bench/detection.py [--work /tmp/spot-bench-detection] [--datasets ../shared/datasets]
                              [--flows 200000] [--hosts 1000] [--seed 7] [--only sim,iot23,dns]

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

A dataset folder that is absent is reported as "skipped: <path> absent". The numbers are the
baseline later work must beat, reported as they are.
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

from bench._harness import REPO, run_assets, spot, write_config  # noqa: E402
from resources.lake import LakeResource  # noqa: E402
from spot_assets.ml.evaluate import evaluate  # noqa: E402

DAY = dt.date(2024, 7, 8)
IOT23_CAPTURES = ("20-1", "21-1", "42-1", "8-1", "34-1")
LABELS = {"malicious": 1, "benign": 0}
COLUMNS = ("events", "positives", "roc_auc", "average_precision", "precision_at_10", "precision_at_50",
           "precision_at_100", "precision_at_250", "recall_at_250", "scored_without_label", "labels_without_score")


def row(dataset: str, case: str, data_type: str, day: dt.date, report: dict) -> dict:
    return {"dataset": dataset, "case": case, "type": data_type, "day": day.isoformat(),
            **{k: report[k] for k in COLUMNS}}


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
            rows.append(row("sim", f"seed {seed}, {flows} flows", data_type, day, report))
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
            run_assets(config, day, "flow")
            rows.append(row("iot23", f"{capture} ({path.name})", "flow", day, evaluate_day(home, "flow", day, labels)))
    return rows


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
        run_assets(config, DAY, "dns")
        labels = pa.concat_tables([benign_labels, tunnel_labels(moved)])
        rows.append(row("dns-pcaps", pcap.name, "dns", DAY, evaluate_day(home, "dns", DAY, labels)))
    return rows


def show(rows: list[dict]) -> str:
    head = (f"{'dataset':<10} {'case':<28} {'type':<5} {'day':<10} {'events':>8} {'pos':>6} {'AUC':>6} {'AP':>6} "
            f"{'P@10':>5} {'P@50':>5} {'P@100':>5} {'P@250':>5} {'R@250':>5} {'unlab':>6} {'unsc':>6}")
    lines = [head]
    for r in rows:
        lines.append(f"{r['dataset']:<10} {r['case'][:28]:<28} {r['type']:<5} {r['day']:<10} {r['events']:>8} "
                     f"{r['positives']:>6} {r['roc_auc']:6.3f} {r['average_precision']:6.3f} "
                     f"{r['precision_at_10']:5.2f} {r['precision_at_50']:5.2f} {r['precision_at_100']:5.2f} "
                     f"{r['precision_at_250']:5.2f} {r['recall_at_250']:5.3f} {r['scored_without_label']:>6} "
                     f"{r['labels_without_score']:>6}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default="/tmp/spot-bench-detection")
    parser.add_argument("--datasets", default=str(REPO.parent / "shared" / "datasets"))
    parser.add_argument("--flows", type=int, default=200_000)
    parser.add_argument("--hosts", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", default="sim,iot23,dns")
    args = parser.parse_args()
    work, datasets, only = Path(args.work), Path(args.datasets), set(args.only.split(","))
    rows = []
    if "sim" in only:
        print("(a) simulated days", flush=True)
        rows += simulated(work, args.flows, args.hosts, args.seed)
    for name, folder, fn in (("iot23", "iot23-labeled-conn", lambda root: iot23(work, root)),
                             ("dns", "dns-pcaps",
                              lambda root: dns_tunnels(work, root, args.flows // 2, args.hosts, args.seed))):
        if name not in only:
            continue
        root = datasets / folder
        print(f"({'b' if name == 'iot23' else 'c'}) {folder}", flush=True)
        if not root.is_dir():
            print(f"  skipped: {root} absent")
            continue
        rows += fn(root)
    print()
    print(show(rows) if rows else "no dataset evaluated")
    print("unlab = scored events without a label, unsc = labels without a scored event")
    return 0


if __name__ == "__main__":
    sys.exit(main())
