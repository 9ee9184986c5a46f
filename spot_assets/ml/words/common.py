"""Arithmetic and text helpers that compute what Spot's Scala code computes.

Spot's bins are not textbook ``floor(log2 x)``: they are ``(log10(x) / log10(2)).toInt`` and
``ceil(log10(x) / log10(2)).toInt`` (``MathUtils.scala``), so they are computed here with the same
formula and the JVM's double-to-int conversion (NaN -> 0, saturation at the int range). Formula
and exact logarithm agree for every integer below 2**22 (checked); near 2**50 and beyond, where a
double cannot tell ``2**k - 1`` from ``2**k``, they part, and the formula's answer is Spot's.

Strings are measured the way Java measures them, in UTF-16 code units: ``String.length`` and
``groupBy`` over ``Char`` count a character outside the Basic Multilingual Plane as two units (its
surrogates), so lengths and entropies do too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

WORD_ERROR = "word_error"  # InvalidDataHandler.WordError: the word of a row whose word creation threw

# ProxySuspiciousConnectsModel.EntropyCuts, as literals: 0.3 * k would differ in the last bit.
ENTROPY_CUTS = np.array(
    [0.0, 0.3, 0.6, 0.9, 1.2, 1.5, 1.8, 2.1, 2.4, 2.7, 3.0, 3.3, 3.6, 3.9, 4.2, 4.5, 4.8, 5.1, 5.4, np.inf]
)

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_LOG10_2 = np.log10(2.0)
_SLICE_ROWS = 1 << 16  # strings measured at a time
_CELLS = 1 << 22  # (row, symbol) counters at a time


# ----- tables in, tables out

def to_table(data: pa.Table | pd.DataFrame) -> pa.Table:
    if isinstance(data, pd.DataFrame):
        return pa.Table.from_pandas(data, preserve_index=False)
    return data


def like(data: pa.Table | pd.DataFrame, table: pa.Table) -> pa.Table | pd.DataFrame:
    """Hand the result back in the caller's kind: pandas in, pandas out."""
    return table.to_pandas() if isinstance(data, pd.DataFrame) else table


def columns(table: pa.Table, types: dict[str, pa.DataType]) -> dict[str, pa.Array]:
    """The named columns as single arrays of Spot's model types (pandas may hand ints as floats)."""
    missing = [name for name in types if name not in table.column_names]
    if missing:
        raise KeyError(f"word creation needs columns {missing}; the table has {table.column_names}")
    return {name: pc.cast(table[name], kind).combine_chunks() for name, kind in types.items()}


def with_words(table: pa.Table, words: dict[str, pa.Array]) -> pa.Table:
    for name, values in words.items():
        table = table.append_column(name, values)
    return table


# ----- Spot's numbers

def java_int(x: np.ndarray) -> np.ndarray:
    """Scala's ``Double.toInt``: truncate, NaN -> 0, saturate at the int range."""
    with np.errstate(invalid="ignore"):
        return np.trunc(np.nan_to_num(np.clip(x, _INT_MIN, _INT_MAX), nan=0.0)).astype(np.int64)


def log2_floor(x: np.ndarray) -> np.ndarray:
    """``MathUtils.logBaseXInt(x, 2)``: 0 for 0, else ``(log10(x) / log10(2)).toInt``."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x == 0, 0, java_int(np.log10(x) / _LOG10_2))


def log2_ceil(x: np.ndarray) -> np.ndarray:
    """``MathUtils.ceilLog2(x)``: ``ceil(log10(x) / log10(2)).toInt``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return java_int(np.ceil(np.log10(np.asarray(x, dtype=np.float64)) / _LOG10_2))


def entropy_bin(entropy: np.ndarray) -> np.ndarray:
    """``MathUtils.bin(x, EntropyCuts)``: index of the first cut >= x."""
    return np.searchsorted(ENTROPY_CUTS, entropy, side="left")


def parse_int(text: pa.Array) -> pa.Array:
    """``Integer.parseInt``: optional sign, ASCII digits, int range; null where Java would throw.

    (Java also accepts other Unicode decimal digits; no log writes hours that way.)
    """
    text = pc.fill_null(text, "")
    ok = pc.match_substring_regex(text, r"^[+-]?0*[0-9]{1,10}$")
    digits = pc.if_else(ok, pc.replace_substring_regex(text, r"^\+", ""), "0")
    value = pc.cast(digits, pa.int64())
    ok = pc.and_(ok, pc.and_(pc.greater_equal(value, _INT_MIN), pc.less_equal(value, _INT_MAX)))
    return pc.if_else(ok, value, pa.scalar(None, pa.int64()))


def leading_int(strings: pa.Array, pattern: str) -> pa.Array:
    """``parse_int`` of the regex group ``value`` (null where the pattern does not match)."""
    match = pc.extract_regex(pc.fill_null(strings, ""), pattern)
    return parse_int(pc.struct_field(match, "value"))


def all_of(checks: dict[str, pa.Array]) -> pa.Array:
    """SQL's ``a && b && ...`` as a row filter: a null anywhere that decides it drops the row.

    ``checks`` maps the reason a row is invalid to the check that row fails (see ``first_reason``).
    """
    valid = None
    for check in checks.values():
        valid = check if valid is None else pc.and_kleene(valid, check)
    return pc.fill_null(valid, False)


def first_reason(flags: dict[str, pa.Array]) -> pa.Array:
    """Each row's first name in ``flags`` whose flag is true, null where none is."""
    flags = list(flags.items())
    out = pa.nulls(len(flags[0][1]), pa.string())
    for name, flag in reversed(flags):
        out = pc.if_else(pc.fill_null(flag, False), name, out)
    return out


def account(checks: dict[str, pa.Array], fills: dict[str, pa.Array]) -> pa.Array:
    """Why each row has the word it has: the first check it fails (no word), else the first fill its
    word was built with, else null (worded by Spot's rule as it stands). A null check fails."""
    failed = {reason: pc.invert(pc.fill_null(check, False)) for reason, check in checks.items()}
    return first_reason(failed | fills)


def text(values: np.ndarray | pa.Array) -> pa.Array:
    """Numbers printed as Scala's ``mkString`` prints an Int (no padding, ``-1`` for minus one)."""
    return pc.cast(pa.array(values) if isinstance(values, np.ndarray) else values, pa.string())


def join_words(*parts: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "_")


def finish(word: pa.Array, valid: pa.Array, failed: pa.Array | None = None) -> pa.Array:
    """Invalid rows get no word (Spot set them aside before wording); failed rows get ``word_error``."""
    if failed is not None:
        word = pc.if_else(pc.fill_null(failed, True), WORD_ERROR, word)
    return pc.if_else(valid, word, pa.scalar(None, pa.string()))


# ----- Java's view of a string

def _utf16_units(strings: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(row, code unit) for every UTF-16 code unit of every string, rows ascending."""
    arr = pc.cast(pc.fill_null(strings, ""), pa.large_string())
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + n + 1]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]] if n else np.empty(0, np.uint8)
    byte_row = np.repeat(np.arange(n, dtype=np.int32), np.diff(offsets))
    if not data.size or data.max() < 0x80:  # ASCII: a byte is a code unit
        return byte_row, data
    # Decode UTF-8 to code points: each character starts at a non-continuation byte.
    lead = (data & 0xC0) != 0x80
    starts = np.flatnonzero(lead)
    size = np.select([data[starts] < 0x80, data[starts] < 0xE0, data[starts] < 0xF0], [1, 2, 3], 4)
    char = np.cumsum(lead) - 1
    position = np.arange(data.size) - starts[char]
    payload_mask = np.where(lead, np.array([0, 0x7F, 0x1F, 0x0F, 0x07])[size[char]], 0x3F)
    shifted = (data & payload_mask).astype(np.int64) << (6 * (size[char] - 1 - position))
    code = np.add.reduceat(shifted, starts)
    # Characters beyond U+FFFF are two code units in Java: the surrogate pair.
    wide = code >= 0x10000
    units = np.repeat(code, 1 + wide)
    first = np.cumsum(1 + wide) - (1 + wide)
    high, low = first[wide], first[wide] + 1
    units[high] = 0xD800 + ((code[wide] - 0x10000) >> 10)
    units[low] = 0xDC00 + ((code[wide] - 0x10000) & 0x3FF)
    return np.repeat(byte_row[starts], 1 + wide), units


def _entropy_terms(rows: np.ndarray, units: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, -p log2 p) per distinct (row, unit), units ascending within a row.

    Counting is a bincount over (row, symbol) cells, symbols being the distinct units of the slice
    renumbered densely, a few thousand rows at a time so the cell array stays small; a sort of
    every unit (np.unique) was five times slower.
    """
    present = np.flatnonzero(np.bincount(units)) if units.size else np.zeros(1, np.int64)
    dense = np.zeros(present[-1] + 1, np.int32)
    dense[present] = np.arange(present.size, dtype=np.int32)
    symbols, alphabet = dense[units], present.size
    step = max(1, _CELLS // alphabet)
    starts = np.arange(0, len(length) + step, step, dtype=np.int32)
    bounds = np.searchsorted(rows, starts)
    key_rows, counts = [], []
    for first, (a, b) in zip(starts, zip(bounds[:-1], bounds[1:])):
        cells = np.bincount((rows[a:b] - first) * alphabet + symbols[a:b])
        hit = np.flatnonzero(cells)
        key_rows.append(hit // alphabet + first)
        counts.append(cells[hit])
    key_rows, counts = np.concatenate(key_rows), np.concatenate(counts)
    p = counts / length[key_rows]
    return key_rows, -p * np.log10(p) / _LOG10_2


def length_and_entropy(strings: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Java ``String.length`` and ``Entropy.stringEntropy`` (bits per character) of each string.

    Terms are Spot's ``-p * log10(p) / log10(2)``, summed in code-unit order; Spot summed in hash
    map order, so the two may differ in the last bit, which moves a bin only for an entropy within
    one ulp of a cut. Strings go through in slices to bound memory (a unit costs ~30 bytes here).
    """
    lengths, entropies = [], []
    for start in range(0, len(strings), _SLICE_ROWS):
        piece = strings.slice(start, _SLICE_ROWS)
        rows, units = _utf16_units(piece)
        length = np.bincount(rows, minlength=len(piece))
        key_rows, terms = _entropy_terms(rows, units, length)
        lengths.append(length)
        entropies.append(np.bincount(key_rows, weights=terms, minlength=len(piece)))
    if not lengths:
        return np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate(lengths), np.concatenate(entropies)
