"""What every asset module of the graph shares, without loading Spark: the analyst store's key and the
automation rule each stage follows."""

import dagster as dg

ANALYST_STORE = dg.AssetKey("analyst_store")
# Each stage follows its inputs as soon as they change (landing files -> ingest -> ... -> suspicious).
EAGER = dg.AutomationCondition.eager()
