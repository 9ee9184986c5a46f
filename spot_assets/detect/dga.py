"""How algorithmically generated a domain's own label looks: a character model small enough to ship.

Malware with a domain generation algorithm (DGA) derives hundreds of names a day from a seed and the
date, and registers one or two of them: the names are random or pseudo-word strings, unlike names
people chose to be read and typed. The model scores the registered domain's own label (``example``
in ``a.b.example.co.uk``: the public suffix says nothing about the generator, the subdomain belongs
to the domain's owner) with a logistic regression over

* the frequencies of its character 1-, 2- and 3-grams, with ``^`` and ``$`` marking its ends
  (``^ex``, ``le$``): English and brand names reuse a small set of trigrams, generators do not;
* seven shape features: length, log length, digit share, vowel share among letters, hyphens,
  longest consonant run over length, and Shannon entropy of its characters.

Its output is P(DGA) for a label drawn from a balanced mix of the two classes: 0.5 is even odds.

The weights ship as ``data/dga-model.json`` (float16, base64, 150 KB). ``scripts/train_dga.py``
rebuilds them byte for byte from the public lists in ``shared/datasets/domain-lists`` and writes
``data/dga-model.provenance.json`` beside them: the files and their sha256 (checked against the
lists' ``PROVENANCE.jsonl``), the families and top sites held out, and the held-out AUC. In short:
trained on the UMUDGA and andrewaeva families except those held out and the word-list generators
(suppobox, matsnu, gozi, pizd, rovnix: dictionary words are the characters of benign compound names,
so a character model cannot learn them and only learns to distrust long English names), against the
UMUDGA and OpenDNS benign lists, the andrewaeva Alexa 1,000 and the even ranks of the Tranco top 10k.
Evaluated, split by family, on nine of the seventeen baderj families (every other one alphabetically:
banjori, corebot, murofet, nymaim, pushdo, qakbot, simda, tempedreve, zloader; none of them, in any
version, was trained on) against the odd ranks of the Tranco top 10k (no label of which was trained
on): AUC 0.951. Random-looking families score 0.99+; pronounceable short ones do not (simda 0.87,
pushdo 0.90, tempedreve 0.93), and a subdomain-hosted generator (kraken under ``mooo.com``) shows
only its provider's label.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from spot_assets.ml.metrics import roc_auc

MODEL_FILE = "dga-model.json"
PROVENANCE_FILE = "dga-model.provenance.json"

# a-z, 0-9, then one code for '-' and any other character (IDN bytes, '_'), then the end marker
SYMBOLS = 38
_OTHER, _END = 36, 37
_LUT = np.full(256, _OTHER, dtype=np.int64)
_LUT[np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", np.uint8)] = np.arange(26)
_LUT[np.frombuffer(b"0123456789", np.uint8)] = np.arange(26, 36)
_LUT[ord("^")] = _LUT[ord("$")] = _END
_VOWELS = np.zeros(SYMBOLS, bool)
_VOWELS[[ord(c) - ord("a") for c in "aeiouy"]] = True
_LETTERS = np.arange(SYMBOLS) < 26
_DIGITS = (np.arange(SYMBOLS) >= 26) & (np.arange(SYMBOLS) < 36)

# where each n-gram order's weights start in the weight vector: 38 unigrams, 38² bigrams, 38³ trigrams
OFFSETS = (0, SYMBOLS, SYMBOLS + SYMBOLS ** 2)
NGRAM_WEIGHTS = SYMBOLS + SYMBOLS ** 2 + SYMBOLS ** 3
SHAPE = ("length", "log_length", "digits", "vowels", "hyphens", "consonant_run", "entropy")


@dataclass(frozen=True)
class Features:
    """Labels as model input: n-gram weight indices per order (-1 = none) and standardisable shape features."""

    ngrams: tuple[np.ndarray, np.ndarray, np.ndarray]  # (labels, positions) each
    counts: np.ndarray  # (labels, 3): n-grams of each order, at least 1
    shape: np.ndarray  # (labels, len(SHAPE))


def features(labels: list[str]) -> Features:
    """Every label at once, as a padded code matrix: one pass of numpy per order, no per-label loop."""
    n = len(labels)
    width = max((len(s.encode()) for s in labels), default=0) + 2
    framed = np.array([("^" + s.lower() + "$").encode() for s in labels], dtype=f"S{width}")
    raw = framed.view(np.uint8).reshape(n, width)
    valid = raw != 0
    codes = np.where(valid, _LUT[raw], -1)
    inner = valid.copy()  # the label's own characters, without the end markers
    inner[:, 0] = False
    inner[np.arange(n), valid.sum(axis=1) - 1] = False  # the end marker
    ngrams = []
    for order in (1, 2, 3):
        if order == 1:
            index, ok = codes, inner
        else:
            span = width - order + 1
            index = np.zeros((n, span), np.int64)
            ok = np.ones((n, span), bool)
            for k in range(order):
                index = index * SYMBOLS + np.maximum(codes[:, k:k + span], 0)
                ok &= valid[:, k:k + span]
        ngrams.append(np.where(ok, index + OFFSETS[order - 1], -1))
    counts = np.stack([np.maximum((g >= 0).sum(axis=1), 1) for g in ngrams], axis=1)

    chars = np.where(inner, codes, -1)
    length = inner.sum(axis=1).astype(float)
    letters = (_LETTERS[np.maximum(chars, 0)] & inner).sum(axis=1)
    vowels = (_VOWELS[np.maximum(chars, 0)] & inner).sum(axis=1)
    digits = (_DIGITS[np.maximum(chars, 0)] & inner).sum(axis=1)
    hyphens = ((chars == _OTHER) & inner).sum(axis=1)
    consonant = inner & _LETTERS[np.maximum(chars, 0)] & ~_VOWELS[np.maximum(chars, 0)]
    run = np.zeros(n)
    current = np.zeros(n)
    for j in range(width):
        current = np.where(consonant[:, j], current + 1, 0)
        run = np.maximum(run, current)
    histogram = np.zeros((n, SYMBOLS))
    rows = np.repeat(np.arange(n), inner.sum(axis=1))
    np.add.at(histogram, (rows, chars[inner]), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = histogram / np.maximum(length, 1)[:, None]
        entropy = -np.nansum(np.where(p > 0, p * np.log2(p), 0.0), axis=1)
    safe = np.maximum(length, 1)
    shape = np.stack([length / 16, np.log1p(length), digits / safe, vowels / np.maximum(letters, 1),
                      hyphens.astype(float), run / safe, entropy], axis=1)
    return Features(tuple(ngrams), counts.astype(float), shape)


@dataclass(frozen=True)
class DgaModel:
    weights: np.ndarray  # NGRAM_WEIGHTS n-gram weights
    shape_weights: np.ndarray  # one per SHAPE feature, over standardised values
    shape_mean: np.ndarray
    shape_std: np.ndarray
    bias: float

    def logit(self, x: Features) -> np.ndarray:
        total = np.full(len(x.counts), self.bias)
        for order, index in enumerate(x.ngrams):
            total += np.where(index >= 0, self.weights[np.maximum(index, 0)], 0.0).sum(axis=1) / x.counts[:, order]
        return total + ((x.shape - self.shape_mean) / self.shape_std) @ self.shape_weights

    def score(self, labels: list[str]) -> np.ndarray:
        """P(DGA) per label (balanced prior)."""
        if not labels:
            return np.zeros(0)
        return 1 / (1 + np.exp(-self.logit(features(labels))))

    def to_json(self) -> dict:
        return {
            "format": "spot dga logistic regression v1",
            "symbols": "a-z 0-9, '-' and any other character, '^'/'$' for the ends",
            "ngram_offsets": list(OFFSETS),
            "weights_float16_base64": base64.b64encode(self.weights.astype("<f2").tobytes()).decode(),
            "shape": list(SHAPE),
            "shape_weights": [round(float(v), 6) for v in self.shape_weights],
            "shape_mean": [round(float(v), 6) for v in self.shape_mean],
            "shape_std": [round(float(v), 6) for v in self.shape_std],
            "bias": round(float(self.bias), 6),
        }

    @classmethod
    def from_json(cls, data: dict) -> "DgaModel":
        if data.get("shape") != list(SHAPE) or data.get("ngram_offsets") != list(OFFSETS):
            raise ValueError("DGA model file does not match this code's features (retrain with scripts/train_dga.py)")
        weights = np.frombuffer(base64.b64decode(data["weights_float16_base64"]), "<f2").astype(float)
        if len(weights) != NGRAM_WEIGHTS:
            raise ValueError(f"DGA model file has {len(weights)} n-gram weights, expected {NGRAM_WEIGHTS}")
        return cls(weights, *(np.asarray(data[k], float) for k in ("shape_weights", "shape_mean", "shape_std")),
                   float(data["bias"]))

    def quantized(self) -> "DgaModel":
        """The model as its file holds it (float16 weights, rounded shape terms): what ships is what is measured."""
        return DgaModel.from_json(self.to_json())


@lru_cache(maxsize=1)
def load() -> DgaModel:
    """The shipped model."""
    text = resources.files("spot_assets.detect").joinpath("data", MODEL_FILE).read_text()
    return DgaModel.from_json(json.loads(text))


def auc(positives: np.ndarray, negatives: np.ndarray) -> float:
    """P(a positive outscores a negative), ties counting half: `spot evaluate`'s ROC AUC (where a lower
    score is more suspicious, and a negative one means "no score") on the scores turned over."""
    values = np.concatenate([positives, negatives])
    return roc_auc(values.max() - values, np.r_[np.ones(len(positives), bool), np.zeros(len(negatives), bool)])
