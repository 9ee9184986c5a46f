"""The threat sensor: a threat saved or edited in the analyst store requests its day's storyboard once."""

import datetime as dt

import dagster as dg

from resources.store import AnalystStore
from spot_assets.definitions import build_definitions, resources_for

DAY = dt.date(2024, 7, 8)


def tick(defs, cfg, instance, cursor=None):
    sensor = defs.resolve_sensor_def("flow_threat_sensor")
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources_for(cfg),
                                      definitions=defs)
    return sensor(context)


def test_saved_threat_requests_its_storyboard_once_and_again_after_an_edit(spot_config):
    defs = build_definitions(spot_config)
    with dg.instance_for_test() as instance:
        nothing = tick(defs, spot_config, instance)
        assert nothing.run_requests == []
        assert not (spot_config.home_path / "analyst.db").exists()  # a sensor never creates the store

        store = AnalystStore(spot_config.store_url)
        store.save_threat("flow", DAY, "10.0.0.5", "Beacon", "every 300 s", "ana")
        first = tick(defs, spot_config, instance, nothing.cursor)
        assert [r.partition_key for r in first.run_requests] == [DAY.isoformat()]
        assert defs.resolve_sensor_def("flow_threat_sensor").job_name == "flow_storyboard_build"
        assert tick(defs, spot_config, instance, first.cursor).run_requests == []

        store.save_threat("flow", DAY, "10.0.0.5", "C2 beacon", "every 300 s to 203.0.113.9", "bob")
        again = tick(defs, spot_config, instance, first.cursor)
        assert [r.partition_key for r in again.run_requests] == [DAY.isoformat()]
        assert again.run_requests[0].run_key != first.run_requests[0].run_key
