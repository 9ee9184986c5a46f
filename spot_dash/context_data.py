"""What the enrichment's context says about the addresses and names of a list, as the pages mark them:
reputation (Spot's ``*_rep`` strings) and internal or external.

Internal is the enrichment's flag (``[context] ip_ranges``) where the row has one, else the private
ranges every stage assumes without that file (``spot_assets.detect.base.private_addresses``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from spot_assets.detect.base import flagged_or_private, private_addresses


def parse_reputation(text: str | None) -> tuple[int, list[tuple[str, str]]]:
    """Spot's reputation string ``svc:LABEL:value[:categories]::svc2:…`` as (highest value, [(service, label)]).

    Values: -1 unverified, 0 none, 1 low, 2 medium, 3 high (spec §4.5); no string is -1 with no service.
    """
    level, services = -1, []
    for part in (text or "").split("::"):
        fields = part.split(":")
        if len(fields) < 3:
            continue
        try:
            value = int(fields[2])
        except ValueError:
            continue
        level = max(level, value)
        services.append((fields[0], fields[1]))
    return level, services


def private(addresses: list) -> np.ndarray:
    return private_addresses(pd.Series(addresses, dtype=object))


def internal_flags(table: pa.Table, column: str, flag_column: str | None) -> np.ndarray:
    """Whether each address of ``column`` is internal: the enrichment's flag where it has one, else private."""
    if not flag_column or flag_column not in table.column_names:
        return private(table[column].to_pylist())
    return flagged_or_private(pd.Series(table[column].to_pylist(), dtype=object), table[flag_column])
