"""Detection metrics for a ranked list where a lower score is more suspicious.

LDA scores tie a lot (every event with the same word and IP scores the same), so ties are handled
explicitly instead of by whatever order a sort leaves them in: ROC AUC counts a tied
(positive, negative) pair as one half; average precision steps over distinct scores, as scikit-learn
defines it; precision@k and recall@k are the expected values when the tie group that straddles the
cut-off is taken in random order. Events scored -1 (no word) are ranked last, as Spot never lists them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PRECISION_AT = (10, 50, 100, 250)
RECALL_AT = 250
FLAGGED_SHARE = 0.01


def _suspicion(scores: np.ndarray) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    return -np.where(s < 0, np.inf, s)


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    labels = np.asarray(labels).astype(bool)
    pos, neg = labels.sum(), (~labels).sum()
    if pos == 0 or neg == 0:
        return float("nan")
    ranks = pd.Series(_suspicion(scores)).rank(method="average").to_numpy()
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg))


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    labels = np.asarray(labels).astype(bool)
    if labels.sum() == 0:
        return float("nan")
    frame = pd.DataFrame({"s": _suspicion(scores), "y": labels})
    steps = frame.groupby("s", sort=True)["y"].agg(["sum", "count"]).iloc[::-1]
    tp = steps["sum"].cumsum().to_numpy()
    seen = steps["count"].cumsum().to_numpy()
    return float(np.sum(steps["sum"].to_numpy() * (tp / seen)) / labels.sum())


def expected_hits_at(scores: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Expected positives among the first ``k`` when ties are ordered at random."""
    frame = pd.DataFrame({"s": _suspicion(scores), "y": np.asarray(labels).astype(bool)})
    steps = frame.groupby("s", sort=True)["y"].agg(["sum", "count"]).iloc[::-1]
    hits, taken = 0.0, 0
    for positives, count in zip(steps["sum"], steps["count"]):
        if taken + count <= k:
            hits, taken = hits + positives, taken + count
        else:
            hits += positives * (k - taken) / count
            break
    return hits


def detection_report(scores: np.ndarray, labels: np.ndarray) -> dict:
    labels = np.asarray(labels).astype(bool)
    report = {
        "events": int(len(labels)),
        "positives": int(labels.sum()),
        "roc_auc": roc_auc(scores, labels),
        "average_precision": average_precision(scores, labels),
    }
    for k in PRECISION_AT:
        report[f"precision_at_{k}"] = expected_hits_at(scores, labels, k) / min(k, len(labels)) if len(labels) else float("nan")
    report[f"recall_at_{RECALL_AT}"] = (expected_hits_at(scores, labels, RECALL_AT) / labels.sum()
                                         if labels.sum() else float("nan"))
    # what an analyst who reads 1 % of a day's events finds of its attacks
    flagged = max(1, int(np.ceil(len(labels) * FLAGGED_SHARE)))
    report["recall_at_1pct"] = expected_hits_at(scores, labels, flagged) / labels.sum() if labels.sum() else float("nan")
    return report
