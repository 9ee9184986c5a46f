"""What the dashboard does differently for each data type, one module per type found by the type's name
(``spot_dash/views/<name>.py``, as ``DataType.word_rule`` finds the word rule): the grid's columns, the
network view (its elements, styles, legend and what a click opens), the words of its filter and scoring
boxes, the details' title and the storyboard's figures. Everything else is written once against the
spec (``spot_assets.datatypes``).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from spot_assets.datatypes import DATA_TYPES


def view(data_type: str) -> ModuleType:
    return importlib.import_module(f"spot_dash.views.{DATA_TYPES[data_type].name}")
