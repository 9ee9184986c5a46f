"""The cluster path: the whole graph of a day (`spot run`) against a Spark standalone cluster started
from pyspark's own `bin/spark-class` (a master and two workers on 127.0.0.1), as an operator runs it,
giving the same scores as local mode."""

import contextlib
import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pyspark
import pytest

from resources.lake import LakeResource
from spot_assets.datatypes import DATA_TYPES

DAY = dt.date(2024, 7, 8)

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


def spot(home: Path, master: str, *args: str) -> subprocess.CompletedProcess:
    config = home / "spot.toml"
    config.write_text(f'home = "."\n[spark]\nmaster = "{master}"\ndriver_memory = "1g"\nexecutor_memory = "1g"\n'
                      'shuffle_partitions = 4\n[ingest]\nsettle_seconds = 0\nstart_date = 2024-01-01\n'
                      '[ml]\ntopic_count = 8\niterations = 10\n' + ('local_max_rows = 0\n' if master.startswith("spark://") else ""))
    return subprocess.run([sys.executable, "-m", "spot_cli", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=1200)


def test_whole_graph_on_a_two_worker_cluster_scores_as_local_mode(tmp_path):
    """The graph of a day on `spark://` (two workers) and on `local[2]` from the same captures."""
    samples = tmp_path / "samples"
    made = spot(tmp_path, "local[2]", "simulate", "--date", DAY.isoformat(), "--flows", "6000", "--hosts", "80",
                "--scenarios", "c2_beacon,dns_tunnel,dga", "--out", str(samples))
    assert made.returncode == 0, made.stdout + made.stderr
    homes = {"cluster": tmp_path / "cluster", "local": tmp_path / "local"}
    for home in homes.values():
        for data_type in tuple(DATA_TYPES):
            shutil.copytree(samples / data_type, home / "landing" / data_type)
    logs = tmp_path / "cluster-logs"
    logs.mkdir()
    with standalone_cluster(logs, workers=2) as master:
        run = spot(homes["cluster"], master, "run", "--date", DAY.isoformat())
        assert run.returncode == 0, run.stdout + run.stderr
        assert "Registered app spot" in (logs / "master.log").read_text()  # the run used the cluster
    run = spot(homes["local"], "local[2]", "run", "--date", DAY.isoformat())
    assert run.returncode == 0, run.stdout + run.stderr

    for data_type in tuple(DATA_TYPES):
        tables = {}
        for name, home in homes.items():
            scores = LakeResource(root=str(home / "lake")).read_day(f"{data_type}_scores", DAY)
            tables[name] = scores.sort_by([("source_file", "ascending"), ("record", "ascending")])
        assert tables["cluster"].num_rows == tables["local"].num_rows > 0
        for column in ("source_file", "record"):
            assert tables["cluster"][column].equals(tables["local"][column])
        assert np.allclose(tables["cluster"]["score"].to_numpy(), tables["local"]["score"].to_numpy(),
                           rtol=1e-6, atol=1e-12), data_type
