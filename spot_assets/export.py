"""What every CSV export Spot writes (`spot export`, the dashboard's Export CSV) must do to its cells."""

from __future__ import annotations

import functools

import pyarrow as pa
import pyarrow.compute as pc

# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formulas(table: pa.Table) -> pa.Table:
    """Every text cell a spreadsheet would run as a formula, prefixed with a quote; a list of text
    (the priority list's sources) as one cell, its items joined by "; "."""
    columns = []
    for column in table.columns:
        if pa.types.is_list(column.type) and pa.types.is_string(column.type.value_type):
            column = pc.binary_join(column, "; ")
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            risky = functools.reduce(pc.or_, (pc.starts_with(column, p) for p in FORMULA_START))
            column = pc.if_else(pc.fill_null(risky, False), pc.binary_join_element_wise("'", column, ""), column)
        columns.append(column)
    return pa.Table.from_arrays(columns, names=table.column_names)
