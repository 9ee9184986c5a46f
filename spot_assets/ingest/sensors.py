"""One sensor per data type over its landing folder: the successor of Spot's watchdog + Kafka.

It requests an ingest run for each day that has complete files waiting. The cursor remembers the
files already requested (by name, size and mtime), so a file is requested once, and again only if it
is still there after being rewritten. A file that belongs to no day (no event time found, or a day
outside the partitions) is named once in the sensor's log and left where it is.
"""


import hashlib
import json
from collections import defaultdict

import dagster as dg

from resources.decoders import DecoderResource
from resources.landing import LandingResource
from spot_assets.ingest import formats
from spot_assets.ingest.landing import Unplaceable, day_of


def landing_sensor(data_type: str, job,
                   partitions: dg.TimeWindowPartitionsDefinition) -> dg.SensorDefinition:
    @dg.sensor(name=f"{data_type}_landing_sensor", job=job, minimum_interval_seconds=15,
                default_status=dg.DefaultSensorStatus.RUNNING,
                description=f"Requests {data_type} ingest runs for complete files in the landing folder.")
    def _sensor(context: dg.SensorEvaluationContext, landing: LandingResource, decoders: DecoderResource):
        seen: dict[str, list] = json.loads(context.cursor) if context.cursor else {}
        waiting = {}
        by_day: dict[str, list[str]] = defaultdict(list)
        tools = None  # located (a subprocess per tool) only when a new file needs probing
        for path in landing.complete(data_type):
            stat = path.stat()
            signature = [stat.st_size, stat.st_mtime_ns]
            waiting[path.name] = signature
            if seen.get(path.name) == signature:
                continue
            tools = tools or decoders.tools(formats.tools_needed(data_type))
            try:
                day = day_of(data_type, path, tools, partitions).isoformat()
            except Unplaceable as e:
                context.log.warning(f"{e}; left in the landing folder")
                continue
            by_day[day].append(f"{path.name}:{signature}")
        requests = [
            dg.RunRequest(partition_key=day, run_key=f"{data_type}:{day}:" + hashlib.sha1("|".join(sorted(names)).encode()).hexdigest()[:16],
                          tags={"spot/data_type": data_type, "spot/files": str(len(names))})
            for day, names in sorted(by_day.items())
        ]
        # Forget files that have left the landing folder, so the cursor does not grow forever.
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(waiting))

    return _sensor
