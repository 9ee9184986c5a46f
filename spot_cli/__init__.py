"""`spot`, the command line, beside the Dagster definitions (`spot_assets`) and the dashboard (`spot_dash`).

Every command that computes goes through Dagster (`runs`); `main` parses the arguments and hands each
command to its module.
"""
