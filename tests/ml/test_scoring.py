"""Scoring and detection metrics in plain numpy/pandas; expected values computed by hand."""

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from resources.lake import LakeResource
from spot_assets.ml import model as model_store
from spot_assets.ml.metrics import average_precision, detection_report, expected_hits_at, roc_auc
from spot_assets.ml.model import TopicModel
from spot_assets.ml.scoring import flow_scores, score

DAY = dt.date(2024, 7, 8)
# θ: doc a = (0.5, 0.5), doc b = (1, 0); φ: w1 = (0.2, 0.6), w2 = (0.8, 0.4)
MODEL = TopicModel(["a", "b"], np.array([[0.5, 0.5], [1.0, 0.0]]), ["w1", "w2"], np.array([[0.2, 0.6], [0.8, 0.4]]))


def test_score_is_theta_dot_phi_unseen_is_zero_word_error_is_minus_one():
    got = score(MODEL, np.array(["a", "b", "a", "nobody", "a"]), np.array(["w1", "w2", "unseen", "w1", "word_error"]))
    assert got == pytest.approx([0.5 * 0.2 + 0.5 * 0.6, 0.8, 0.0, 0.0, -1.0])


def test_flow_takes_the_lower_side_and_any_word_error():
    got = flow_scores(MODEL, np.array(["a", "a"]), np.array(["w1", "word_error"]),
                      np.array(["b", "b"]), np.array(["w2", "w2"]))
    assert got == pytest.approx([min(0.4, 0.8), -1.0])


def test_scoring_many_events_in_chunks_matches_a_plain_loop():
    rng = np.random.default_rng(3)
    theta, phi = rng.dirichlet(np.ones(4), 50), rng.dirichlet(np.ones(30), 4).T
    model = TopicModel([f"ip{i}" for i in range(50)], theta, [f"w{j}" for j in range(30)], phi)
    d, w = rng.integers(0, 50, 450_001), rng.integers(0, 30, 450_001)
    got = score(model, np.array([f"ip{i}" for i in d]), np.array([f"w{j}" for j in w]))
    expected = np.array([theta[i] @ phi[j] for i, j in zip(d[:2000], w[:2000])])
    assert got[:2000] == pytest.approx(expected)
    assert got[-1] == pytest.approx(theta[d[-1]] @ phi[w[-1]])


def test_metrics_on_a_hand_ranked_list():
    # Lower is more suspicious: order 0.1(+) 0.2(-) 0.3(+) 0.4(-).
    scores, labels = np.array([0.3, 0.1, 0.4, 0.2]), np.array([1, 1, 0, 0])
    assert roc_auc(scores, labels) == pytest.approx(3 / 4)
    assert average_precision(scores, labels) == pytest.approx((1 + 2 / 3) / 2)
    assert expected_hits_at(scores, labels, 2) == 1


def test_ties_count_half_and_split_the_cut_off():
    scores, labels = np.array([0.1, 0.1, 0.5]), np.array([1, 0, 0])
    assert roc_auc(scores, labels) == pytest.approx((0.5 + 1) / 2)
    assert expected_hits_at(scores, labels, 1) == pytest.approx(0.5)
    # A word_error (-1) is never suspicious: it ranks below everything.
    assert roc_auc(np.array([-1.0, 0.2]), np.array([1, 0])) == 0.0


def test_report_has_every_figure_the_evaluation_prints():
    report = detection_report(np.linspace(0, 1, 1000), (np.arange(1000) < 20).astype(int))
    assert report["roc_auc"] == 1.0 and report["average_precision"] == 1.0
    assert report["precision_at_10"] == 1.0 and report["precision_at_50"] == pytest.approx(20 / 50)
    assert report["recall_at_250"] == 1.0 and report["positives"] == 20


@pytest.mark.parametrize("precision", [32, 64])
def test_a_model_is_stored_and_scored_in_its_precision(tmp_path, precision):
    """Spot's PRECISION: 32 bits halve the stored model; scores then agree with 64-bit arithmetic to
    float32's precision, and a 64-bit model comes back exactly."""
    rng = np.random.default_rng(5)
    theta, phi = rng.dirichlet(np.ones(6), 40), rng.dirichlet(np.ones(90), 6).T
    ips, words = [f"10.0.0.{i}" for i in range(40)], [f"w{j}" for j in range(90)]
    lake = LakeResource(root=str(tmp_path))
    model_store.save(lake, "dns", DAY, TopicModel(ips, theta, words, phi), precision)
    stored = lake.read_day("dns_phi", DAY)
    assert stored.schema.field("topics").type.value_type == {32: pa.float32(), 64: pa.float64()}[precision]
    loaded = model_store.load(lake, "dns", DAY)
    assert loaded.theta.dtype == loaded.phi.dtype == {32: np.float32, 64: np.float64}[precision]
    d, w = rng.integers(0, 40, 1000), rng.integers(0, 90, 1000)
    got = score(loaded, np.array(ips)[d], np.array(words)[w])
    expected = np.einsum("ij,ij->i", theta[d], phi[w])
    if precision == 64:
        np.testing.assert_array_equal(got, expected)
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-6)
        assert not np.array_equal(got, expected)
