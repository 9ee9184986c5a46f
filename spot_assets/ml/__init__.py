"""Spot's machine learning layer: event words, the per-day LDA model and scoring (spec §3)."""
