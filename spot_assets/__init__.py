"""Spot on Dagster: the asset graph."""
