"""Flow scoring kernel against a pure numpy gather over the same θ, φ and events.

    python bench/scoring.py [--work /tmp/spot-bench-ml] [--flows 1000000] [--repeat 5]

Reads the model (θ, φ) and the words of the flow day bench/ml.py fitted (its lake under
``WORK/<flows>/home``), then times, best of ``--repeat``:

  (i)   `scoring.flow_scores(model, sip, src_word, dip, dst_word)`: our kernel, string -> index
        lookups included (the lookups alone are also shown);
  (ii)  the floor: a numpy gather with every index precomputed,
        ``min(einsum(θ[d1], φ[w1]), einsum(θ[d2], φ[w2]))`` in chunks (unknown ids point at a zero row);
  (iii) the whole Spark scoring step (mapInArrow, Parquet write, suspicious top-N, checks) from
        bench/ml.py's run (``WORK/ml.json``), when present.

Checks that (i) and (ii) agree on every event, then reports (i)/(ii) (goal <= 3x) and (iii)/(ii).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from resources.lake import LakeResource  # noqa: E402
from spot_assets.ml import model as model_store  # noqa: E402
from spot_assets.ml.scoring import CHUNK, _positions, flow_scores  # noqa: E402

DAY = dt.date(2024, 7, 8)
GOAL = 3.0


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def numpy_floor(theta: np.ndarray, phi: np.ndarray, d1, w1, d2, w2) -> np.ndarray:
    out = np.empty(len(d1))
    for s in range(0, len(d1), CHUNK):
        e = s + CHUNK
        out[s:e] = np.minimum(np.einsum("ij,ij->i", theta[d1[s:e]], phi[w1[s:e]]),
                              np.einsum("ij,ij->i", theta[d2[s:e]], phi[w2[s:e]]))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default="/tmp/spot-bench-ml")
    parser.add_argument("--flows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    work = Path(args.work)
    lake = LakeResource(root=str(work / str(args.flows) / "home" / "lake"))
    model = model_store.load(lake, "flow", DAY)
    words = lake.read_day("flow_words", DAY, columns=["sip", "src_word", "dip", "dst_word"])
    # As the scoring asset hands them over: Arrow columns.
    sip, src, dip, dst = (words[c].combine_chunks() for c in ("sip", "src_word", "dip", "dst_word"))
    n = len(sip)
    print(f"{n} events, θ {model.theta.shape}, φ {model.phi.shape}; load average {os.getloadavg()[0]:.1f}")

    t_ours, ours = best(lambda: flow_scores(model, sip, src, dip, dst), args.repeat)
    t_lookup, (d1, w1, d2, w2) = best(lambda: (_positions(sip, model.doc_keys), _positions(src, model.word_keys),
                                               _positions(dip, model.doc_keys), _positions(dst, model.word_keys)),
                                      args.repeat)
    # Unknown ids (-1) index the appended zero row, as an unseen word scores 0.
    theta = np.vstack([model.theta, np.zeros(model.topics)])
    phi = np.vstack([model.phi, np.zeros(model.topics)])
    t_floor, floor = best(lambda: numpy_floor(theta, phi, d1, w1, d2, w2), args.repeat)

    scored = ours >= 0  # -1 marks a word_error, which the floor does not model
    agree = np.allclose(ours[scored], floor[scored], rtol=1e-12, atol=0)
    print(f"(i)/(ii) agree on the {int(scored.sum())} scored events: {agree}")
    print(f"(i)   flow_scores (ours, lookups included) {t_ours:8.3f} s  {n / t_ours / 1e6:6.2f} M events/s")
    print(f"      of which the 4 string->index lookups {t_lookup:8.3f} s")
    print(f"(ii)  numpy gather, indices precomputed    {t_floor:8.3f} s  {n / t_floor / 1e6:6.2f} M events/s")
    ratio = t_ours / t_floor
    print(f"(i)/(ii) = {ratio:.2f}x (goal <= {GOAL:.0f}x: {'met' if ratio <= GOAL else 'NOT met'}); "
          f"kernel without lookups ≈ {(t_ours - t_lookup) / t_floor:.2f}x")
    results = work / "ml.json"
    spark = None
    if results.exists():
        rows = [r for r in json.loads(results.read_text())["rows"]
                if r["flows"] == args.flows and r["config"] == "ours"]
        spark = rows[-1]["steps"].get("flow_scoring") if rows else None
    if spark is None:
        print(f"(iii) skipped: no bench/ml.py result for {args.flows} flows in {results}")
    else:
        print(f"(iii) Spark scoring step (bench/ml.py)     {spark:8.3f} s  (iii)/(ii) = {spark / t_floor:.0f}x, "
              f"(iii)/(i) = {spark / t_ours:.0f}x")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
