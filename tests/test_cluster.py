"""The cluster path: `spot ingest` against a Spark standalone cluster started from pyspark's own
`bin/spark-class` (a master and a worker on 127.0.0.1), in a separate process, as an operator runs it."""

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyarrow.compute as pc
import pyspark
import pytest

from resources.lake import LakeResource
from spot_assets import schemas
from tests.test_ingest_graph import DAY, expected_rows

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def standalone_cluster(log_dir: Path, workers: int = 1):
    spark_class = Path(pyspark.__file__).parent / "bin" / "spark-class"
    port, ui = free_port(), free_port()
    env = os.environ | {"SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
    procs = []

    def start(name, *args):
        log = open(log_dir / f"{name}.log", "w")
        procs.append(subprocess.Popen([str(spark_class), *args], env=env, stdout=log, stderr=subprocess.STDOUT))

    master = f"spark://127.0.0.1:{port}"
    try:
        start("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
              "--webui-port", str(ui))
        for i in range(workers):
            start(f"worker{i}", "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--cores", "1",
                  "--memory", "1g", "--webui-port", str(free_port()), master)
        deadline = time.time() + 90
        while True:
            with contextlib.suppress(OSError, ValueError):
                state = json.load(urllib.request.urlopen(f"http://127.0.0.1:{ui}/json/", timeout=2))
                if state.get("aliveworkers", 0) >= workers:
                    break
            if time.time() > deadline:
                logs = "\n".join((log_dir / f).read_text()[-2000:] for f in os.listdir(log_dir))
                raise RuntimeError(f"the standalone cluster did not come up:\n{logs}")
            time.sleep(1)
        yield master
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(20)
            if p.poll() is None:
                p.kill()


def test_ingest_runs_on_a_standalone_cluster(tmp_path):
    from spot_assets.simulation.sample import make_sample

    sample = make_sample(tmp_path / "sample", DAY, seed=5, events=300)
    logs = tmp_path / "cluster-logs"
    logs.mkdir()
    with standalone_cluster(logs) as master:
        config = tmp_path / "spot.toml"
        config.write_text(f'home = "home"\n[spark]\nmaster = "{master}"\ndriver_memory = "1g"\n'
                          'executor_memory = "1g"\n[ingest]\nstart_date = 2024-01-01\n')
        run = subprocess.run([sys.executable, "-m", "spot_assets.cli", "--config", str(config), "ingest", "flow",
                              *map(str, sample["flow"])], capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "succeeded" in run.stdout
        app_logs = list((logs).glob("*.log"))
        assert any("Launching executor" in p.read_text() or "Executor added" in p.read_text() for p in app_logs)

    lake = LakeResource(root=str(tmp_path / "home" / "lake"))
    summary = lake.read_day("flow_ingest_summary", DAY, schemas.INGEST_SUMMARY)
    assert pc.sum(summary["total"]).as_py() == expected_rows("flow", sample["flow"])
