"""Spot's toy acceptance tests (spec §6.1) on Spark's LDA with Spot's classic setting: the rare event
of an IP's document scores about its share of the document, the common one about the rest. And the
fit is a function of the corpus and seed alone."""

import math

import numpy as np
import pandas as pd
import pytest

from resources.config import MLConfig
from spot_assets.ml import lda
from spot_assets.ml.scoring import flow_scores, score
from spot_assets.ml.words import corpus, dns as dns_rule, flow as flow_rule, proxy as proxy_rule

CLASSIC = MLConfig(**lda.CLASSIC, topic_count=20)


def fit(spark, worded, data_type):
    return lda.fit(spark, spark.createDataFrame(corpus(worded, data_type).to_pandas()), CLASSIC)


def test_flow_toy(spark):
    flow = dict(sip="172.16.0.129", dip="10.0.2.202", sport=1024, dport=80, proto="TCP", ibyt=12522, ipkt=39)
    rows = [dict(flow, treceived="2016-05-05 00:00:01", trhour=0, trminute=0, trsec=1)]
    rows += [dict(flow, treceived="2016-05-05 13:54:58", trhour=13, trminute=54, trsec=58)] * 9
    worded = flow_rule.words(pd.DataFrame(rows))
    model, stats = fit(spark, worded, "flow")
    got = flow_scores(model, worded.sip, worded.src_word, worded.dip, worded.dst_word)
    assert got[0] == pytest.approx(0.1, abs=0.01) and got[1] == pytest.approx(0.9, abs=0.01)
    assert (stats.documents, stats.vocabulary, stats.tokens) == (2, 2, 20) and lda.finite(stats)
    # Each of the two documents holds its rare word once and its common word 9 times (spec §6.1).
    expected = 2 * (math.log(0.1) + 9 * math.log(0.9))
    assert stats.log_likelihood == pytest.approx(expected, abs=0.25)
    assert stats.log_perplexity == pytest.approx(-expected / 20, abs=0.0125)


def test_dns_toy(spark):
    row = dict(frame_time="May 12 2015 11:32:45.000 UTC", unix_tstamp=1431430365, ip_dst="10.0.0.1",
               dns_qry_name="www.apache.org", dns_qry_class="0x0001", dns_qry_type=1, dns_qry_rcode=0)
    worded = dns_rule.words(pd.DataFrame([dict(row, frame_len=1)] + [dict(row, frame_len=168)] * 4))
    model, _ = fit(spark, worded, "dns")
    got = score(model, worded.ip_dst, worded.word)
    assert got[0] == pytest.approx(0.2, abs=0.01) and got[1] == pytest.approx(0.8, abs=0.01)


def test_proxy_toy(spark):
    row = dict(p_date="2016-10-03", p_time="04:57:36", clientip="10.0.0.1", reqmethod="GET", useragent="Mozilla",
               resconttype="text/html", respcode="200")
    rows = [dict(row, host="intel.com", fulluri="intel.com/")]
    rows += [dict(row, host="maw.bronto.com", fulluri="maw.bronto.com/sites/c37i4q22szvir8ga3m8mtxaft7gwnm5fio8hfxo35mu81absi1/carter-the-sweater-9qc")] * 9
    worded = proxy_rule.words(pd.DataFrame(rows), safe_domain="intel")
    model, _ = fit(spark, worded, "proxy")
    got = score(model, worded.clientip, worded.word)
    assert got[0] == pytest.approx(0.1, abs=0.01) and got[1] == pytest.approx(0.9, abs=0.01)


def test_online_fit_depends_on_the_corpus_not_on_its_row_order_or_layout(spark):
    """The online optimizer samples mini-batches partition by partition: the same pairs, in another
    order and partitioning, and with one pair split over two rows, must give the same model."""
    rng = np.random.default_rng(7)
    pairs = pd.DataFrame([(f"10.0.{d // 250}.{d % 250}", f"w{w}", int(rng.integers(2, 9)))
                          for d in range(300) for w in rng.choice(60, 6, replace=False)],
                         columns=["ip", "word", "count"])
    one = pairs.iloc[[0]]
    split = pd.concat([pairs.iloc[1:], one.assign(count=1), one.assign(count=one["count"] - 1)])
    split = split.sample(frac=1, random_state=1)
    online = MLConfig(topic_count=4, iterations=5, subsampling_rate=0.1, min_batch_documents=16, seeds=1)
    first, _ = lda.fit(spark, spark.createDataFrame(pairs), online)
    second, _ = lda.fit(spark, spark.createDataFrame(split).repartition(3), online)
    assert list(first.docs) == list(second.docs) and list(first.words) == list(second.words)
    np.testing.assert_allclose(second.theta, first.theta, rtol=1e-12)
    np.testing.assert_allclose(second.phi, first.phi, rtol=1e-12)


def test_several_seeds_score_the_mean_of_independent_single_seed_fits(spark):
    """[ml] seeds = 3: each event's score is the mean of the scores of three fits of its own, one per seed."""
    rng = np.random.default_rng(3)
    pairs = pd.DataFrame([(f"10.0.0.{d}", f"w{w}", int(rng.integers(1, 6)))
                          for d in range(40) for w in rng.choice(25, 5, replace=False)], columns=["ip", "word", "count"])
    corpus = spark.createDataFrame(pairs)
    online = dict(topic_count=3, iterations=4, min_batch_documents=8)
    combined, _ = lda.fit(spark, corpus, MLConfig(**online, seed=7, seeds=3))
    seeds = lda.member_seeds(7, 3)
    assert seeds[0] == 7 and len(set(seeds)) == 3 and not set(seeds) & set(lda.member_seeds(8, 3))
    singles = [lda.fit(spark, corpus, MLConfig(**online, seed=seed, seeds=1))[0] for seed in seeds]
    events = pairs.sample(frac=1, random_state=0)
    ips, words = list(events.ip) + ["10.9.9.9"], list(events.word) + ["w1"]  # an IP no model knows scores 0
    expected = np.mean([[m.theta[m.docs.get_loc(ip)] @ m.phi[m.words.get_loc(w)] if ip in m.docs else 0.0
                         for ip, w in zip(ips, words)] for m in singles], axis=0)
    np.testing.assert_allclose(score(combined, ips, words), expected, rtol=1e-12)
    assert combined.topics == 9 and np.allclose(combined.theta.sum(axis=1), 1.0)
    assert not np.allclose(singles[0].phi, singles[1].phi)  # the seeds did draw differently
