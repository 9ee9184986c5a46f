"""The demo's progress board: which stages of which day are done, read from a real Dagster instance."""

import datetime as dt

import dagster as dg

from spot_cli.runs import DayProgress

DAYS = [dt.date(2024, 7, 8), dt.date(2024, 7, 9)]


def test_the_board_counts_each_days_stages_from_the_instances_materializations(spot_config):
    progress = DayProgress(spot_config, DAYS)
    assert {"raw", "events", "words", "model", "suspicious"} <= set(progress.stages)
    assert progress.stages["model"] == {dg.AssetKey(f"{t}_model") for t in ("flow", "dns", "proxy")}
    with dg.instance_for_test() as instance:
        for key in progress.keys:  # the first day whole
            instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=DAYS[0].isoformat()))
        for name in ("flow_raw", "dns_raw", "proxy_raw", "dns_events"):  # the second day begun
            instance.report_runless_asset_event(dg.AssetMaterialization(name, partition=DAYS[1].isoformat()))
        instance.report_runless_asset_event(dg.AssetMaterialization("flow_model", partition="2024-07-10"))  # not shown
        done = progress.done(instance)

    assert done[DAYS[0]] == set(progress.keys) and progress.complete(done, DAYS[0])
    assert len(done[DAYS[1]]) == 4 and not progress.complete(done, DAYS[1])
    header, first, second, running = progress.lines(done, ("2024-07-09", "dns_decode"))
    cells = dict(zip(header.split()[1:], second.split()[1:]))
    assert first.split()[1:] == ["ok"] * len(progress.stages)
    assert cells["raw"] == "ok" and cells["events"] == "1/3" and cells["model"] == "-"
    assert running == "running: 2024-07-09 dns_decode"


def test_a_narrow_terminal_gets_the_stages_in_blocks_that_fit(spot_config):
    progress = DayProgress(spot_config, DAYS)
    done = {day: set() for day in DAYS}
    lines = progress.lines(done, None, width=60)
    assert max(map(len, lines)) <= 60
    headers = [line.split()[1:] for line in lines if line.startswith("day")]
    assert len(headers) > 1 and [s for h in headers for s in h] == list(progress.stages)
