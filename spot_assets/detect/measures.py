"""Measures and wording the detectors share: robust outliers, character entropy, sizes and shares in text.

One definition each, so that "robust z 4.1" or "2.1 GB" means the same in every reason an analyst reads.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def robust_z(values, sample=None) -> np.ndarray:
    """Iglewicz & Hoaglin's modified z-score 0.6745 (x − median) / MAD of ``values`` against ``sample``
    (default: the values themselves). Where more than half the sample is equal (MAD 0) it falls back to the
    mean absolute deviation (times 1.2533 it estimates σ); where the whole sample is equal, a larger value
    is infinitely far and the others 0."""
    x = np.asarray(values, dtype=float)
    s = x if sample is None else np.asarray(sample, dtype=float)
    if len(x) == 0 or len(s) == 0:
        return np.full(len(x), np.nan)
    median = np.median(s)
    deviation = np.abs(s - median)
    mad, mean_ad = np.median(deviation), np.mean(deviation)
    if mad > 0:
        return 0.6745 * (x - median) / mad
    if mean_ad > 0:
        return (x - median) / (1.2533 * mean_ad)
    return np.where(x > median, np.inf, 0.0)


def entropy(texts: list[str], groups: np.ndarray | None = None, n_groups: int | None = None) -> np.ndarray:
    """Shannon entropy in bits per character: of each text, or of each group's texts taken together
    (``groups[i]`` is text i's group), counted over all texts at once."""
    if groups is None:
        groups, n_groups = np.arange(len(texts)), len(texts)
    lengths = np.fromiter((len(t) for t in texts), np.int64, len(texts))
    chars = np.frombuffer("".join(texts).encode("utf-32-le"), np.uint32) if len(texts) else np.zeros(0, np.uint32)
    owner = np.repeat(np.asarray(groups, np.int64), lengths)
    key, keys = pd.factorize(owner << 32 | chars.astype(np.int64))
    counts = np.bincount(key)
    key_group = np.asarray(keys) >> 32
    totals = np.bincount(key_group, counts, n_groups)
    p = counts / totals[key_group]
    return np.bincount(key_group, -p * np.log2(p), n_groups)


def size_text(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


def share_text(fraction: float) -> str:
    percent = 100 * fraction
    return f"{percent:.2g} %" if percent < 1 else f"{percent:.1f} %" if percent < 10 else f"{percent:.0f} %"


def times_text(ratio: float) -> str:
    return f"{ratio:.1f}x" if ratio < 10 else f"{ratio:,.0f}x"


def clip_text(text: str, keep: int = 80) -> str:
    return text if len(text) <= keep else text[:keep] + "…"


def findings(keys: pd.DataFrame, score, reason, evidence, events) -> pd.DataFrame:
    """A detector's rows in the shape `base.Detector.find` returns, strongest first."""
    out = keys.reset_index(drop=True).astype(object).assign(
        score=np.clip(np.asarray(score, dtype=float), 0, 1), reason=list(reason),
        evidence=evidence.to_dict("records") if isinstance(evidence, pd.DataFrame) else list(evidence),
        events=np.asarray(events, dtype=np.int64))
    return out.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
