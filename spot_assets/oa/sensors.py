"""A sensor per data type on the analyst store: a threat saved (or edited) in the dashboard leads to
its day's storyboard within seconds, with no manual step and no write to the store."""

import json

import dagster as dg

from resources.store import AnalystStoreResource


def threat_sensor(data_type: str, job, partitions: dg.PartitionsDefinition) -> dg.SensorDefinition:
    @dg.sensor(name=f"{data_type}_threat_sensor", job=job, minimum_interval_seconds=5,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description=f"Builds the {data_type} storyboard of a day when its threats change.")
    def _sensor(context: dg.SensorEvaluationContext, store: AnalystStoreResource):
        seen = json.loads(context.cursor) if context.cursor else {}
        current = store.store().threat_versions(data_type)
        requests = [dg.RunRequest(partition_key=day, run_key=f"{data_type}:{day}:{version}",
                                  tags={"spot/data_type": data_type, "spot/trigger": "threat saved"})
                    for day, version in sorted(current.items())
                    if seen.get(day) != version and partitions.has_partition_key(day)]
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(current))

    return _sensor
