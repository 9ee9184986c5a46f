"""A small client of a running Dagster webserver's GraphQL API: launch asset runs and partition
backfills there, so they run under the daemon and show in the UI like any other, and follow them."""

from __future__ import annotations

import json
import time
import urllib.error
from collections import Counter
import urllib.request

_LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on UnauthorizedError { message }
    ... on PartitionSetNotFoundError { message }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { invalidOutputName }
  }
}"""
_BACKFILL = """
query($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { status }
    ... on PythonError { message }
  }
  runsOrError(filter: {tags: [{key: "dagster/backfill", value: $id}]}) {
    ... on Runs { results { status } }
  }
}"""
_DONE = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


class DagsterApiError(RuntimeError):
    pass


class DagsterApi:
    def __init__(self, url: str, timeout: float = 30.0):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def query(self, text: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": text, "variables": variables or {}}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", body, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = json.load(response)
        except (urllib.error.URLError, OSError) as e:
            raise DagsterApiError(f"the Dagster webserver at {self.url} did not answer: {e}") from e
        if answer.get("errors"):
            raise DagsterApiError(f"Dagster refused the request: {answer['errors'][0].get('message')}")
        return answer["data"]

    def ready(self) -> bool:
        try:
            return bool(self.query("{ version }").get("version"))
        except DagsterApiError:
            return False

    def wait_ready(self, seconds: float = 120.0) -> None:
        deadline = time.monotonic() + seconds
        while not self.ready():
            if time.monotonic() > deadline:
                raise DagsterApiError(f"the Dagster webserver at {self.url} was not ready after {seconds:.0f} s")
            time.sleep(1)

    def launch_asset_backfill(self, assets: list[str], partitions: list[str], title: str) -> str:
        """A backfill of assets: the daemon honours each asset's backfill policy, so the Spark assets
        take all the days in one run once the days' ingest runs are done."""
        params = {"assetSelection": [{"path": a.split("/")} for a in assets], "partitionNames": partitions,
                  "fromFailure": False, "title": title}
        result = self.query(_LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
        if result["__typename"] != "LaunchBackfillSuccess":
            raise DagsterApiError(f"backfill not launched: {result}")
        return result["backfillId"]

    def backfill(self, backfill_id: str) -> tuple[str, Counter]:
        """The backfill's status and how many of its runs are in each state."""
        data = self.query(_BACKFILL, {"id": backfill_id})
        result = data["partitionBackfillOrError"]
        if result["__typename"] != "PartitionBackfill":
            raise DagsterApiError(f"backfill {backfill_id}: {result}")
        return result["status"], Counter(r["status"].lower() for r in data["runsOrError"].get("results", []))

    def wait_backfill(self, backfill_id: str, progress=print, poll: float = 5.0, timeout: float | None = None) -> str:
        """Follow a backfill to its end, reporting progress; its final status."""
        last, deadline = None, None if timeout is None else time.monotonic() + timeout
        while True:
            status, runs = self.backfill(backfill_id)
            counts = ", ".join(f"{n} {state}" for state, n in sorted(runs.items()))
            line = f"backfill {backfill_id}: {status.lower()} (runs: {counts or 'none yet'})"
            if line != last:
                progress(line)
                last = line
            if status in _DONE:
                return status
            if deadline is not None and time.monotonic() > deadline:
                raise DagsterApiError(f"backfill {backfill_id} still {status.lower()} after {timeout:.0f} s")
            time.sleep(poll)
