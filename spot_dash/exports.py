"""What the pages' Export buttons download."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from spot_assets.export import neutralise_formulas


def csv_bytes(table: pa.Table) -> bytes:
    """CSV with every text cell that a spreadsheet would run as a formula prefixed with a quote."""
    columns = [pc.strftime(c, "%Y-%m-%d %H:%M:%S") if pa.types.is_timestamp(c.type) else c for c in table.columns]
    out = io.BytesIO()
    pacsv.write_csv(neutralise_formulas(pa.Table.from_arrays(columns, names=table.column_names)), out)
    return out.getvalue()
