"""Ingest: landing, raw zone, decoding into the event tables."""
