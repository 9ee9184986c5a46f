"""Train the shipped DGA model from the public domain lists, deterministically, and say how it was made.

    .venv/bin/python scripts/train_dga.py [DATASETS]      # default ../shared/datasets

Writes ``spot_assets/detect/data/dga-model.json`` and ``dga-model.provenance.json`` (the files read
and their sha256, checked against ``PROVENANCE.jsonl``; the families and top sites held out; the
held-out AUC). The same lists give the same bytes: no randomness, fixed iteration count, sorted inputs.

The split is by family, so the AUC measures families the model never saw. Held out: every other one
of the 17 baderj families in ``domain-lists/dga/`` (alphabetically, starting with the first), and
every version of them in the training lists too (``murofet_v1..v3``...); evaluated against the odd
ranks of ``top-sites-10k.csv``, no second-level label of which is in any benign training list.
Training: UMUDGA and andrewaeva families not held out, except the word-list generators (see
``WORD_LIST_FAMILIES``), against the even ranks of the top 10k, the UMUDGA benign 10k, the OpenDNS top
domains and the andrewaeva Alexa 1,000.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spot_assets.detect import dga  # noqa: E402
from spot_assets.oa.domains import split_name  # noqa: E402

DATA = ROOT / "spot_assets" / "detect" / "data"
# L2 penalty per weight: the trigram table has 55k entries for ~100k labels; without it rare trigrams seen
# in one class only would get unbounded weights
L2 = 1e-4
ITERATIONS = 400
STEP = 0.05
# Generators that join dictionary words (``weakgrow``, ``wedding-muscle``, ``ofhonorcommontruthslarge``):
# their labels are made of the same characters as benign compound names, so a character model can only
# learn "long and English = DGA" from them, which marks real compound names. Not trained on.
WORD_LIST_FAMILIES = frozenset({"gozi", "matsnu", "pizd", "rovnix", "suppobox"})


def family_of(umudga_file: str) -> str:
    """``murofet_v2`` -> ``murofet``, ``gozi_nasa`` -> ``gozi``: versions of one generator are one family."""
    return umudga_file.split("_")[0]


def labels(names: list[str]) -> list[str]:
    """The second-level labels (PSL) of the names, in order, without names that have none."""
    return [label for label in (split_name(n)[1] for n in names if n.strip()) if label]


def read_lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def load(datasets: Path):
    lists = datasets / "domain-lists"
    baderj = {p.stem: read_lines(p) for p in sorted((lists / "dga").glob("*.txt"))}
    held_out_families = sorted(baderj)[::2]
    held = set(held_out_families)

    train_dga: dict[str, list[str]] = {}
    for path in sorted((lists / "dga-umudga").glob("*.txt")):
        if family_of(path.stem) not in held | WORD_LIST_FAMILIES:
            train_dga[f"umudga/{path.stem}"] = read_lines(path)
    with open(lists / "dga-labeled-andrewaeva.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row["family"] not in held | WORD_LIST_FAMILIES:
                train_dga.setdefault(f"andrewaeva/{row['family']}", []).append(row["domain"])

    with open(lists / "top-sites-10k.csv", newline="") as f:
        ranked = [(int(rank), name) for rank, name in csv.reader(f)]
    held_sites = [name for rank, name in ranked if rank % 2 == 1]
    held_labels = set(labels(held_sites))
    benign_names = [name for rank, name in ranked if rank % 2 == 0]
    for file in ("umudga-legit-10000.txt", "benign-opendns-top-domains.txt", "benign-alexa-1000.txt"):
        benign_names += read_lines(lists / file)
    train_benign = sorted(set(labels(benign_names)) - held_labels)
    train_dga_labels = sorted(set(lab for names in train_dga.values() for lab in labels(names)) - set(train_benign))

    files = ["domain-lists/top-sites-10k.csv", "domain-lists/umudga-legit-10000.txt",
             "domain-lists/benign-opendns-top-domains.txt", "domain-lists/benign-alexa-1000.txt",
             "domain-lists/dga-labeled-andrewaeva.csv"]
    files += [f"domain-lists/dga-umudga/{k.split('/')[1]}.txt" for k in train_dga if k.startswith("umudga/")]
    files += [f"domain-lists/dga/{family}.txt" for family in sorted(baderj)]
    return {
        "train_dga": train_dga_labels, "train_benign": train_benign, "train_families": sorted(train_dga),
        "held_out_families": held_out_families, "baderj": baderj, "held_sites": held_sites, "files": files,
    }


def fit(positive: list[str], negative: list[str], shape_features: bool = True) -> dga.DgaModel:
    """Class-balanced logistic regression, full-batch Adam for a fixed number of steps (deterministic)."""
    x = dga.features(positive + negative)
    n = len(positive) + len(negative)
    y = np.r_[np.ones(len(positive)), np.zeros(len(negative))]
    sample = np.where(y == 1, 0.5 / len(positive), 0.5 / len(negative))
    mean, std = x.shape.mean(axis=0), x.shape.std(axis=0)
    std[std == 0] = 1
    shape = (x.shape - mean) / std
    if not shape_features:
        shape = np.zeros_like(shape)
    # the n-gram part as (row, weight index, value) triples: one gather and one bincount a step
    rows = np.concatenate([np.nonzero(index >= 0)[0] for index in x.ngrams])
    cols = np.concatenate([index[index >= 0] for index in x.ngrams])
    vals = np.concatenate([(1 / x.counts[:, order])[np.nonzero(index >= 0)[0]] for order, index in enumerate(x.ngrams)])

    params = np.zeros(dga.NGRAM_WEIGHTS + len(dga.SHAPE) + 1)
    m, v = np.zeros_like(params), np.zeros_like(params)
    for step in range(1, ITERATIONS + 1):
        w, s, b = params[:dga.NGRAM_WEIGHTS], params[dga.NGRAM_WEIGHTS:-1], params[-1]
        z = np.bincount(rows, w[cols] * vals, n) + shape @ s + b
        g = sample * (1 / (1 + np.exp(-z)) - y)
        grad = np.concatenate([np.bincount(cols, g[rows] * vals, dga.NGRAM_WEIGHTS), shape.T @ g, [g.sum()]])
        grad[:-1] += L2 * params[:-1]
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad ** 2
        params -= STEP * (m / (1 - 0.9 ** step)) / (np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
    return dga.DgaModel(params[:dga.NGRAM_WEIGHTS], params[dga.NGRAM_WEIGHTS:-1], mean, std,
                        float(params[-1])).quantized()


def evaluate(model: dga.DgaModel, data: dict) -> dict:
    benign = model.score(labels(data["held_sites"]))
    per_family = {family: model.score(labels(names)) for family, names in data["baderj"].items()}
    held = np.concatenate([per_family[f] for f in data["held_out_families"]])
    return {
        "held_out_auc": round(dga.auc(held, benign), 4),
        "held_out_families_auc": {f: round(dga.auc(per_family[f], benign), 4) for f in data["held_out_families"]},
        "seen_families_auc (trained on other implementations of these)": {
            f: round(dga.auc(s, benign), 4) for f, s in per_family.items() if f not in data["held_out_families"]},
        "held_out_top_sites_share_scoring_at_least": {
            str(t): round(float((benign >= t).mean()), 4) for t in (0.5, 0.9, 0.99)},
        "held_out_dga_share_scoring_at_least": {str(t): round(float((held >= t).mean()), 4) for t in (0.5, 0.9, 0.99)},
    }


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="?", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--out", type=Path, default=DATA, help="folder for the model and its provenance")
    args = parser.parse_args(argv)

    provenance = {}
    for line in (args.datasets / "PROVENANCE.jsonl").read_text().splitlines():
        entry = json.loads(line)
        provenance[entry["path"]] = entry
    data = load(args.datasets)
    sources = []
    for file in data["files"]:
        digest = sha256(args.datasets / file)
        if provenance[file]["sha256"] != digest:
            raise SystemExit(f"{file}: sha256 {digest} differs from PROVENANCE.jsonl's {provenance[file]['sha256']}")
        sources.append({"path": file, "sha256": digest, "repo": provenance[file]["repo"],
                        "commit": provenance[file]["commit"]})

    model = fit(data["train_dga"], data["train_benign"])
    report = evaluate(model, data)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / dga.MODEL_FILE).write_text(json.dumps(model.to_json(), indent=1) + "\n")
    (args.out / dga.PROVENANCE_FILE).write_text(json.dumps({
        "trainer": "scripts/train_dga.py",
        "split": "by family: every other baderj family (alphabetical, from the first) held out in every version; "
                 "top sites: odd ranks held out, their labels removed from all benign training lists",
        "held_out_families": data["held_out_families"],
        "held_out_top_sites": "domain-lists/top-sites-10k.csv, odd ranks (1, 3, ..., 9999)",
        "trained_on_dga": data["train_families"],
        "not_trained_word_list_families": sorted(WORD_LIST_FAMILIES),
        "trained_on_benign": ["domain-lists/top-sites-10k.csv even ranks", "domain-lists/umudga-legit-10000.txt",
                              "domain-lists/benign-opendns-top-domains.txt", "domain-lists/benign-alexa-1000.txt"],
        "training_labels": {"dga": len(data["train_dga"]), "benign": len(data["train_benign"])},
        "settings": {"l2": L2, "iterations": ITERATIONS, "adam_step": STEP},
        "evaluation": report,
        "sources": sources,
    }, indent=1) + "\n")
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
