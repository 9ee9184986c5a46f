"""RITA-style beacon scoring: quantiles per group, Bowley skew, and what a timer looks like next to browsing.

Golden numbers come from numpy.quantile per group and from hand arithmetic on tiny examples.
"""

import numpy as np
import pandas as pd
import pytest

from spot_assets.detect.beacon import BeaconParams, beacons, group_quantiles

DAY = pd.Timestamp("2024-07-08", tz="UTC")


def _events(groups: dict[str, np.ndarray], sizes: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """One row per timestamp (seconds into the day) per group key."""
    frames = []
    for key, seconds in groups.items():
        size = sizes[key] if sizes else np.full(len(seconds), 500.0)
        frames.append(pd.DataFrame({"key": key, "ts": DAY + pd.to_timedelta(np.asarray(seconds) * 1000, unit="ms"),
                                    "bytes": size}))
    frame = pd.concat(frames, ignore_index=True)
    return frame.assign(ts=frame["ts"].astype("datetime64[ms, UTC]"))


def test_group_quantiles_match_numpy_quantile_per_group():
    rng = np.random.default_rng(7)
    codes = rng.integers(0, 6, 400)
    values = rng.exponential(30, 400)
    codes[codes == 4] = 5  # group 4 left empty
    got = group_quantiles(codes, values, 7, (0.1, 0.25, 0.5, 0.75, 0.9))
    for g in range(7):
        if (codes == g).any():
            assert got[g] == pytest.approx(np.quantile(values[codes == g], (0.1, 0.25, 0.5, 0.75, 0.9)))
        else:
            assert np.isnan(got[g]).all()


def test_bowley_skew_and_mad_of_the_gaps_by_hand():
    # gaps 10, 10, 20, 50, 90: Q1 = 10, Q2 = 20, Q3 = 50 → skew (10 + 50 − 40) / 40 = 0.5;
    # |gap − 20| = 10, 10, 0, 30, 70 → MAD 10
    seconds = np.cumsum([0, 10, 10, 20, 50, 90])
    found = beacons(_events({"a": seconds}), ["key"], "ts", "bytes", BeaconParams(min_connections=6))
    row = found.iloc[0]
    assert row["connections"] == 6
    assert row["interval"] == 20
    assert row["interval_skew"] == pytest.approx(0.5)
    assert row["jitter"] == 10


def test_a_jittered_beacon_with_missing_beats_outscores_a_poisson_browsing_session():
    rng = np.random.default_rng(3)
    beats = np.arange(0, 86_400, 300.0)
    beats = beats[rng.random(len(beats)) > 0.2]
    beats = np.sort(beats + rng.uniform(-15, 15, len(beats)))  # ±5 % jitter, a fifth of the beats missing
    browsing = 9 * 3600 + np.cumsum(rng.exponential(20, len(beats)))  # as many requests, Poisson, in the morning
    sizes = {"beacon": 1_650 + rng.integers(-20, 20, len(beats)), "browsing": rng.lognormal(9, 1.5, len(browsing))}
    found = beacons(_events({"beacon": beats, "browsing": browsing}, sizes), ["key"], "ts", "bytes", BeaconParams())
    score = dict(zip(found["key"], found["score"]))
    assert score["beacon"] >= BeaconParams().min_score
    assert score["browsing"] < BeaconParams().min_score
    assert score["beacon"] > score["browsing"] + 0.2
    # the beat is recovered: the median gap between distinct timestamps, computed here with numpy
    interval = found.set_index("key").loc["beacon", "interval"]
    assert interval == pytest.approx(np.median(np.diff(beats)), abs=1e-3)  # to the millisecond the timestamps keep


def test_duplicate_timestamps_count_as_one_beat():
    seconds = np.arange(0, 86_400, 600.0)
    once = beacons(_events({"a": seconds}), ["key"], "ts", "bytes", BeaconParams()).iloc[0]
    twice = beacons(_events({"a": np.repeat(seconds, 2)}), ["key"], "ts", "bytes", BeaconParams()).iloc[0]
    assert twice["connections"] == 2 * once["connections"] == 2 * len(seconds)
    assert twice["interval"] == once["interval"] == 600
    assert twice["jitter"] == once["jitter"] == 0
    assert twice["ts_score"] == pytest.approx(once["ts_score"])
