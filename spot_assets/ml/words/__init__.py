"""Spot's word rules (spec §3.2-3.4): every event becomes a word in the document of its IP.

One vectorized rule module per data type (``flow``, ``dns``, ``proxy``; ``DATA_TYPES[t].word_rule``
finds it) works on a pyarrow Table or a pandas DataFrame of decoded events (``spot_assets.schemas``).
Every rule module has the same names, so the code that runs them never asks which type it has:

* ``MODEL_COLUMNS``: the event columns the rule reads, with the types it reads them as;
* ``WORD_COLUMNS`` and ``DOCUMENTS``: the word column(s) it appends and the (ip, word) documents
  they go to (flow: ``src_word`` for sip and ``dst_word`` for dip; DNS: ``word`` for ip_dst;
  proxy: ``word`` for clientip);
* ``checks``, ``fills``, ``valid``: what a valid row passes, the fills a word may use, the two
  combined (``accounts`` counts rows by them);
* ``DAY_COUNTS``: keywords of ``words`` that take counts over the whole day (proxy's user agents),
  which an engine wording a day in pieces must count first;
* ``words(data, *, user_domain, safe_domain, top_sites, ua_counts)``: ``data`` in the same kind
  with the word column(s) appended. Rows Spot's ``filterRecords`` would drop get no word (null);
  rows whose word creation fails get ``word_error``. Each rule reads the settings it needs
  (DNS: ``user_domain``; proxy: ``safe_domain``, ``ua_counts``; both: ``top_sites``) and ignores
  the others.

``corpus`` turns worded events into the (ip, word, count) table LDA is fit on. On Spark,
``spark_words`` runs the same functions over Arrow batches with ``mapInArrow`` (no per-row UDF) and
``spark_corpus`` aggregates with ``groupBy``.

Where Spot's documentation and code disagree, the code is followed; each module's docstring lists
its choices.
"""

from spot_assets.ml.words.accounts import count_accounts
from spot_assets.ml.words.common import WORD_ERROR
from spot_assets.ml.words.corpus import corpus
from spot_assets.ml.words.domains import load_top_sites, split_domains

__all__ = ["WORD_ERROR", "corpus", "count_accounts", "load_top_sites", "split_domains"]
