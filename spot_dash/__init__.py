"""The Dash analyst dashboard (suspicious connects, threat investigation, storyboard, ingest summary)."""
