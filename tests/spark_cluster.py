"""A real Apache Spark standalone cluster on 127.0.0.1 for the tests and the benchmark.

The `pyspark` wheel ships Spark's jars but not `start-master.sh`, so the master and
the workers are started with `$SPARK_HOME/bin/spark-class` (SPARK_HOME = the pyspark
package folder), each on free ports, with its own work and log folders under `root`,
and stopped by their process ids.

Example:
```python
with StandaloneCluster(tmp_path, workers=2) as cluster:
    spark = SparkSession.builder.master(cluster.master_url).getOrCreate()
```
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

HOST = "127.0.0.1"
START_TIMEOUT = 120.0  # seconds; a JVM starts in a few seconds, slower on a busy machine


def java_missing_reason():
    """Why no cluster can start here (no `java` on PATH and no JAVA_HOME), or None."""
    java_home = os.environ.get("JAVA_HOME")
    if shutil.which("java") or (java_home and os.path.exists(os.path.join(java_home, "bin", "java"))):
        return None
    return "no Java runtime (java) found: apt-get install -y openjdk-17-jre-headless"


def spark_home():
    """The pyspark package folder: it holds Spark's jars and bin/spark-class."""
    import pyspark

    return os.path.dirname(os.path.abspath(pyspark.__file__))


def free_port():
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class StandaloneCluster:
    """A standalone master and `workers` workers (each `cores` cores, `memory` of memory).

    Args:
        root: folder for the work and log folders (created).
        workers: number of workers.
        cores, memory: what each worker offers (`--cores`, `--memory`).

    `master_url` is `spark://127.0.0.1:PORT`; `stop()` (or leaving the `with` block)
    ends every process it started.
    """

    def __init__(self, root, workers=2, cores=1, memory="3g"):
        self.root = os.fspath(root)
        self.workers, self.cores, self.memory = workers, cores, memory
        self.port, self.web_port = free_port(), free_port()
        self.master_url = f"spark://{HOST}:{self.port}"
        self.processes = []
        self.start_seconds = None
        self._launched = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def _spawn(self, name, arguments):
        env = {**os.environ, "SPARK_HOME": spark_home(), "SPARK_LOCAL_IP": HOST, "SPARK_LOCAL_HOSTNAME": HOST,
               "SPARK_NO_DAEMONIZE": "1"}
        with open(os.path.join(self.root, f"{name}.log"), "wb") as log:  # the child keeps its own handle
            process = subprocess.Popen([os.path.join(spark_home(), "bin", "spark-class"), *arguments], env=env,
                                       stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        return process

    def start(self):
        """Start the master and the workers; wait until every worker is registered."""
        self.launch()
        self.wait()

    def launch(self):
        """Start the processes without waiting (`wait` does), so the caller can work meanwhile."""
        os.makedirs(self.root, exist_ok=True)
        self._launched = time.perf_counter()
        self._spawn("master", ["org.apache.spark.deploy.master.Master", "--host", HOST, "--port", str(self.port),
                               "--webui-port", str(self.web_port)])
        for index in range(self.workers):
            work_dir = os.path.join(self.root, f"worker-{index}")
            os.makedirs(work_dir, exist_ok=True)
            self._spawn(f"worker-{index}", ["org.apache.spark.deploy.worker.Worker", self.master_url,
                                            "--host", HOST, "--cores", str(self.cores), "--memory", self.memory,
                                            "--work-dir", work_dir, "--webui-port", str(free_port())])

    def wait(self):
        """Wait until every worker is registered with the master (`start_seconds`: since `launch`)."""
        try:
            self._wait_for_workers(self._launched + START_TIMEOUT)
        except Exception:
            self.stop()
            raise
        self.start_seconds = time.perf_counter() - self._launched

    def alive_workers(self):
        """Workers the master lists as ALIVE (its web UI's JSON), or [] while it starts."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
        try:
            with opener.open(f"http://{HOST}:{self.web_port}/json/", timeout=5) as response:
                state = json.loads(response.read())
        except (OSError, ValueError):
            return []
        return [worker for worker in state.get("workers", []) if worker.get("state") == "ALIVE"]

    def _wait_for_workers(self, deadline):
        while len(self.alive_workers()) < self.workers:
            dead = [process.args[1] for process in self.processes if process.poll() is not None]
            if dead or time.perf_counter() > deadline:
                logs = {name: self.log_tail(name) for name in ["master"] + [f"worker-{i}" for i in range(self.workers)]}
                raise RuntimeError(f"Spark standalone cluster did not start (exited: {dead}); logs: {logs}")
            time.sleep(0.5)

    def worker_of(self, pid):
        """Index of the worker whose process is an ancestor of process `pid` (an executor's Python worker), or None."""
        workers = {process.pid: index for index, process in enumerate(self.processes[1:])}
        while pid and pid > 1:
            if pid in workers:
                return workers[pid]
            try:
                with open(f"/proc/{pid}/stat") as stream:
                    pid = int(stream.read().rsplit(")", 1)[1].split()[1])  # field 4: the parent's id
            except (OSError, ValueError, IndexError):
                return None
        return None

    def log_tail(self, name, lines=20):
        try:
            with open(os.path.join(self.root, f"{name}.log"), errors="replace") as stream:
                return "".join(stream.readlines()[-lines:])
        except OSError:
            return ""

    def stop(self):
        """End every process started here, by its id (workers first, then the master)."""
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes = []
