"""Spot's word rules (spec §3.2-3.4): every event becomes a word in the document of its IP.

One vectorized definition per data type works on a pyarrow Table or a pandas DataFrame of decoded
events (``spot_assets.schemas``) and returns it, in the same kind, with the word column(s)
appended: ``flow_words`` (``src_word`` for sip, ``dst_word`` for dip), ``dns_words`` (``word`` for
ip_dst) and ``proxy_words`` (``word`` for clientip). Rows Spot's ``filterRecords`` would drop get
no word (null); rows whose word creation fails get ``word_error``; ``count_accounts`` counts the
rows without a word per reason (``accounts``). ``corpus`` turns worded events into the (ip, word,
count) table LDA is fit on.

On Spark, ``spark_words`` runs the same functions over Arrow batches with ``mapInArrow`` (no
per-row UDF) and ``spark_corpus`` aggregates with ``groupBy``.

Where Spot's documentation and code disagree, the code is followed; each module's docstring lists
its choices.
"""

from spot_assets.ml.words.accounts import count_accounts
from spot_assets.ml.words.common import WORD_ERROR
from spot_assets.ml.words.corpus import DOCUMENTS, WORD_COLUMNS, corpus
from spot_assets.ml.words.dns import dns_words
from spot_assets.ml.words.domains import load_top_sites, split_domains
from spot_assets.ml.words.flow import flow_words
from spot_assets.ml.words.proxy import count_user_agents, proxy_words

__all__ = [
    "DOCUMENTS", "WORD_COLUMNS", "WORD_ERROR", "corpus", "count_accounts", "count_user_agents", "dns_words",
    "flow_words", "load_top_sites", "proxy_words", "split_domains",
]
