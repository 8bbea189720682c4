"""Batches on an Apache Spark cluster: one pair per task, the export loaded once per Python worker.

`run_spark_batch(spark, ...)` takes a `SparkSession` (yours: `spark-submit`, a Databricks
notebook; or `session(master)`'s) and runs each pair as one task (a slow pair holds back no
other) through the one request path, `tf_nst.runs.pairs.run_pair`: the PNGs equal the local
batch's with a one-scale `Stylizer` of the same settings, and "already made?" is the other
engines'. A failing pair is a manifest record, never a failed job; the driver appends one line
per pair to `OUTDIR/manifest.jsonl`, naming the Python worker (`executor`: `host:pid`).

Workers need this package (shipped as a zip: `ship_package`), its requirements in the Python
they run (`spark.pyspark.python` / `PYSPARK_PYTHON`; a local master uses this interpreter), and
the inputs, the export and OUTDIR at the same path on every machine (NFS, EFS, `/dbfs/...`);
`s3a://`, `gs://`, `hdfs://` are refused. Ctrl-C (or `should_stop`) cancels the job; finished
outputs are kept and recorded `ok`; a rerun skips what is done.

Example:
```python
from pyspark.sql import SparkSession
from tf_nst.runs import batch, spark as nst_spark

spark = SparkSession.builder.master("spark://10.0.0.5:7077").getOrCreate()
pairs = batch.make_pairs(["/shared/photos/"], ["/shared/styles/"])
summary = nst_spark.run_spark_batch(spark, pairs, "/shared/out", "/shared/models/tf_nst",
                                    controls={"steps": 100}, size=256)
print(summary.summary_line())
```
"""

import dataclasses
import functools
import json
import os
import re
import signal
import socket
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
import zipfile

from tf_nst.errors import InvalidArgumentError, OutputError, ServingError, require_optional
from tf_nst.io import filesystems
from tf_nst.io import images as image_io
from tf_nst.io import provenance
from tf_nst.runs import batch
from tf_nst.runs import pairs as pair_runs

# Fail here, with the install line, not inside a task.
require_optional("pyspark", "tf_nst.runs.spark needs PySpark: pip install -r requirements-spark.txt")

CONNECT_TIMEOUT = 10.0  # seconds to reach a master before giving up
EXECUTOR_TIMEOUT = 120.0  # seconds to wait for executors to register
MASTER_FORMS = "local, local[N], local[*], spark://HOST:PORT[,HOST:PORT], yarn or k8s://https://HOST:PORT"
_LOCAL_MASTER = re.compile(r"local(\[(\d+|\*)(,\d+)?\])?$")
_HOST_PORT = re.compile(r"\[?([^\[\]/]+?)\]?:(\d+)$")
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_.]*(Error|Exception): ")
_MODELS = {}  # export path -> loaded model, per Python worker process


@dataclasses.dataclass
class SparkPairResult(batch.PairResult):
    """A `PairResult` with where it ran. Args:
        executor: `host:pid` of the Python worker that ran the pair.
        loaded_export: this task loaded the export (the worker's first pair needing it).
    """

    executor: str | None = None
    loaded_export: bool = False


# --- the cluster -------------------------------------------------------------------------------


def check_master(master, timeout=CONNECT_TIMEOUT):
    """Refuse an unknown master URL; for `spark://` and `k8s://`, one that does not answer in `timeout` s.

    Raises:
        InvalidArgumentError: not a master URL Spark knows.
        ServingError: no master answers at the address.
    """
    master = str(master).strip()
    if _LOCAL_MASTER.match(master) or master == "yarn":
        return master
    if master.startswith("spark://"):
        addresses = master[len("spark://"):].split(",")
    elif master.startswith("k8s://"):
        addresses = [re.sub(r"^https?://", "", master[len("k8s://"):]).rstrip("/")]
    else:
        addresses = []
    found = [_HOST_PORT.match(address) for address in addresses]
    if not found or not all(found):
        raise InvalidArgumentError(f"expected a Spark master URL ({MASTER_FORMS}). Received: master={master!r}")
    problems = []
    for match in found:
        try:
            socket.create_connection((match.group(1), int(match.group(2))), timeout=timeout).close()
            return master
        except OSError as error:
            problems.append(f"{match.group(1)}:{match.group(2)}: {error.strerror or error}")
    raise ServingError(f"expected a reachable Spark master within {timeout:g} s. Received: master={master} "
                       f"({'; '.join(problems)})")


def parse_conf(pairs):
    """`["K=V", ...]` (the CLI's `--conf`) -> `{K: V}`."""
    conf = {}
    for item in pairs or ():
        key, separator, value = str(item).partition("=")
        if not separator or not key.strip():
            raise InvalidArgumentError(f"expected --conf KEY=VALUE. Received: {item!r}")
        conf[key.strip()] = value
    return conf


def session(master, conf=None, app_name="tf-nst batch", timeout=CONNECT_TIMEOUT):
    """A `SparkSession` on `master` (checked first: no hang on a wrong address); the Python workers run
    `worker_python` (a local master: this interpreter unless set; on a cluster set `spark.pyspark.python`).

    Raises:
        InvalidArgumentError, ServingError: see `check_master`; the session does not start.
    """
    from pyspark.sql import SparkSession

    master = check_master(master, timeout)
    conf = dict(conf or {})
    before = os.environ.get("PYSPARK_PYTHON")
    python = worker_python(master, conf, os.environ)
    if python:
        # PySpark's context starts its Python workers with PYSPARK_PYTHON (default: `python3` on PATH),
        # read from the environment; the conf alone reaches only spark-submit.
        conf["spark.pyspark.python"] = os.environ["PYSPARK_PYTHON"] = python
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in conf.items():
        builder = builder.config(key, value)
    try:
        return start_session(builder)
    except Exception as error:  # noqa: BLE001 - the JVM's reasons arrive as many types; the user needs the line
        lines = [line for line in str(error).splitlines() if line.strip()]
        raise ServingError(f"expected a Spark session on master={master}. Received: "
                           f"{lines[0] if lines else type(error).__name__}") from None
    finally:  # the context has read it
        os.environ.pop("PYSPARK_PYTHON", None)
        os.environ.update({} if before is None else {"PYSPARK_PYTHON": before})


def start_session(builder, attempts=3, pause=1.0):
    """`builder.getOrCreate()`, again (`attempts` in all) when PySpark's JVM exits before reporting its port
    (`JAVA_GATEWAY_EXITED`, seen where gRPC threads were busy at the fork); other errors are raised at once."""
    for attempt in range(1, attempts + 1):
        try:
            return builder.getOrCreate()
        except Exception as error:  # noqa: BLE001 - PySpark raises it as a generic runtime error
            if "JAVA_GATEWAY_EXITED" not in str(error) or attempt == attempts:
                raise
        time.sleep(pause)


def worker_python(master, conf, environ):
    """The workers' Python: `spark.pyspark.python`, `PYSPARK_PYTHON`, else this interpreter on a local master."""
    return (conf.get("spark.pyspark.python") or environ.get("PYSPARK_PYTHON")
            or (sys.executable if _LOCAL_MASTER.match(master) else None))


def package_zip(folder=None):
    """A zip of the `tf_nst` package (sources and assets), named by its content hash; its path."""
    import hashlib

    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    files = []
    for root, folders, names in os.walk(package):
        folders[:] = sorted(name for name in folders if name != "__pycache__")
        files += [os.path.join(root, name) for name in sorted(names) if not name.endswith((".pyc", ".pyo"))]
    digest = hashlib.sha256()
    for path in files:
        digest.update(os.path.relpath(path, package).encode() + provenance.file_sha256(path).encode())
    target = os.path.join(folder or tempfile.gettempdir(), f"tf_nst-{digest.hexdigest()[:16]}.zip")
    if not os.path.exists(target):
        partial = f"{target}.{uuid.uuid4().hex}"
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                archive.write(path, os.path.relpath(path, os.path.dirname(package)))
        os.replace(partial, target)
    return target


def ship_package(spark):
    """Send this `tf_nst` to every executor's Python workers (`SparkContext.addPyFile` of `package_zip()`).

    The driver serves the zip to executors as they start tasks, so it works on any
    cluster manager; the package's requirements must already be on the workers.
    """
    spark.sparkContext.addPyFile(package_zip())


def active_executors(spark):
    """Ids of the executors registered now (`driver` included), from Spark's REST API; None if no UI."""
    context = spark.sparkContext
    if not context.uiWebUrl:
        return None
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # the driver's own UI: no proxy
    try:
        with opener.open(f"{context.uiWebUrl}/api/v1/applications/{context.applicationId}/executors",
                         timeout=5) as response:
            return [executor["id"] for executor in json.loads(response.read()) if executor.get("isActive", True)]
    except (OSError, ValueError):
        return None


def wait_for_executors(spark, count=1, timeout=EXECUTOR_TIMEOUT):
    """Wait until `count` executors (not the driver) are registered; a local master needs none.

    Raises:
        ServingError: fewer registered within `timeout` s (no worker with free cores and memory).
    """
    if _LOCAL_MASTER.match(spark.sparkContext.master):
        return
    deadline = time.monotonic() + timeout
    while True:
        executors = active_executors(spark)
        if executors is None:
            return  # no UI to ask: the scheduler waits for executors itself
        registered = [name for name in executors if name != "driver"]
        if len(registered) >= count:
            return
        if time.monotonic() > deadline:
            raise ServingError(f"expected {count} Spark executor(s) within {timeout:g} s (workers with free "
                               f"cores and memory). Received: {len(registered)} on {spark.sparkContext.master}")
        time.sleep(0.5)


# --- one task: one pair ---------------------------------------------------------------------------


def _cached_model(path, loaded):
    if path not in _MODELS:
        from tf_nst.serving.client import load_saved_model

        _MODELS[path] = load_saved_model(path)
        loaded.append(path)
    return _MODELS[path]


def run_task(plan, item):
    """On an executor: `(index, pair, output)` -> `(index, SparkPairResult)`; never raises."""
    index, pair, output = item
    started, loaded = time.time(), []
    try:
        result = pair_runs.run_pair(plan, pair, output, lambda: _cached_model(plan.saved_model, loaded))
    except Exception as error:  # noqa: BLE001 - an unexpected failure is this pair's record, not a failed job
        result = pair_runs.record(pair, output, "error", started, error=f"{type(error).__name__}: {error}")
    return index, SparkPairResult(**dataclasses.asdict(result), executor=f"{socket.gethostname()}:{os.getpid()}",
                                  loaded_export=bool(loaded))


# --- the job --------------------------------------------------------------------------------------


def _collect(spark, items, plan, should_stop):
    """Run one task per item; ({index: result}, None) or ({}, "interrupted" / the job's error)."""
    context = spark.sparkContext
    group = f"tf-nst-{uuid.uuid4().hex}"
    outcome = {}

    def job():
        context.setJobGroup(group, "tf-nst batch", interruptOnCancel=True)
        try:
            rdd = context.parallelize(items, max(1, len(items)))
            outcome["results"] = dict(rdd.map(functools.partial(run_task, plan)).collect())
        except Exception as error:  # noqa: BLE001 - a cancelled or failed job; the pairs are settled from their outputs
            outcome["error"] = error

    thread = threading.Thread(target=job, name="tf-nst-spark-job", daemon=True)
    stopped = False
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.2)
            if should_stop is not None and not stopped and should_stop():
                raise KeyboardInterrupt
    except KeyboardInterrupt:  # Ctrl-C (PySpark's own handler cancels all jobs too) or should_stop
        stopped = True
        context.cancelJobGroup(group)
        thread.join(60)
    if "results" in outcome:  # finished before the stop took effect: every pair has its record
        return outcome["results"], None
    if stopped:
        return {}, "interrupted"
    lines = [line.strip() for line in str(outcome.get("error", "")).splitlines() if line.strip()]
    # The Python worker's own exception line says more than the JVM's wrapping of it.
    reason = next((line for line in lines if _EXCEPTION_LINE.match(line)), lines[0] if lines else "no reason given")
    return {}, f"the Spark job failed: {reason}"


def _settle(plan, pair, output, reason, since):
    """A pair whose task result was lost with the job: `ok` if its output was completed after `since`
    (`skipped` if before), else `interrupted` or an `error` with `reason`."""
    started = time.time()
    if pair_runs.already_made(pair_runs.LOCAL_FILES, output, plan.settings, provenance.input_hashes(pair.inputs)):
        result = (pair_runs.record(pair, output, "ok", started, notes=["finished before the job stopped"])
                  if os.path.getmtime(output) >= since else pair_runs.record(pair, output, "skipped", started))
    elif reason == "interrupted":
        result = pair_runs.record(pair, output, "interrupted", started)
    else:
        result = pair_runs.record(pair, output, "error", started, error=reason)
    return SparkPairResult(**dataclasses.asdict(result))


def _shared_path(path, name):
    path = os.fspath(path)
    if not filesystems.is_local(path):
        raise InvalidArgumentError(f"expected a folder at the same path on every executor (a shared mount: NFS, "
                                   f"/dbfs/...), not an object-store URL. Received: {name}={path}")
    return os.path.abspath(path)


def run_spark_batch(spark, pairs=None, outdir=None, saved_model=None, contents=None, styles=None, controls=None,
                    size=None, max_input_pixels=image_io.DEFAULT_MAX_INPUT_PIXELS, manifest_name=batch.MANIFEST_NAME,
                    ship=True, min_executors=1, executor_timeout=EXECUTOR_TIMEOUT, should_stop=None):
    """Stylize every pair on the session's executors; resumable; failures recorded, not fatal.

    Args:
        spark: a `SparkSession`.
        pairs: `tf_nst.runs.batch.Pair`s, or give `contents` and `styles` (files, folders,
            globs: every content x every style).
        outdir, saved_model: output folder (created) and the export's version or base folder, at
            the same path on every executor.
        controls, size, max_input_pixels: as `tf_nst.runs.pairs.PairPlan.from_export`.
        manifest_name: the manifest's file name in `outdir` (appended to).
        ship: send this package to the executors (`ship_package`); False when installed there.
        min_executors: executors to wait for (up to `executor_timeout` s) before starting.
        should_stop: callable polled while the job runs; True cancels it like Ctrl-C.

    Returns: a `tf_nst.runs.batch.BatchSummary` of `SparkPairResult`s, in the pairs' order.

    Raises:
        InvalidArgumentError: no pairs, unknown controls, an object-store path, clashing output names.
        ServingError: not a tf-nst export; no executor registered in time.
        OutputError: `outdir` or the manifest cannot be written.
    """
    pairs = pair_runs.batch_pairs(outdir, saved_model, pairs, contents, styles, batch.make_pairs)
    outdir = os.fspath(outdir)
    outputs = batch.plan_outputs(pairs, outdir)  # as given, for the manifest (like the other batch paths)
    _shared_path(outdir, "outdir")
    plan = pair_runs.PairPlan.from_export(_shared_path(saved_model, "saved_model"), controls, size, max_input_pixels)
    try:
        os.makedirs(outdir, exist_ok=True)
    except OSError as error:
        raise OutputError(f"{outdir}: cannot create the output folder ({error.strerror or error})") from None
    manifest = batch.Manifest(os.path.join(outdir, manifest_name))
    started, since = time.perf_counter(), time.time()  # since: outputs older than this were done before
    if ship:
        ship_package(spark)
    wait_for_executors(spark, min_executors, executor_timeout)
    # Executors resolve paths in their own working folders: they get absolute ones.
    items = [(index, batch.Pair(_shared_path(pair.content, "content"), _shared_path(pair.style, "style"),
                                None if pair.mask is None else _shared_path(pair.mask, "mask")),
              os.path.abspath(output)) for index, (pair, output) in enumerate(zip(pairs, outputs))]
    done, reason = _collect(spark, items, plan, should_stop)
    results = []
    for index, task_pair, output in items:
        result = done.get(index) or _settle(plan, task_pair, output, reason, since)
        # The manifest names the inputs as given, like the other batch paths.
        result = dataclasses.replace(result, content=pairs[index].content, style=pairs[index].style,
                                     mask=pairs[index].mask, output=outputs[index])
        manifest.append(result)
        results.append(result)
    return batch.BatchSummary(results=results, total=len(pairs), seconds=time.perf_counter() - started,
                              manifest=manifest.path, interrupted=reason == "interrupted")


def run_on_master(master, conf=None, timeout=CONNECT_TIMEOUT, **batch_arguments):
    """`run_spark_batch` on a session of its own on `master` (the CLI's `--engine spark`), stopped after.

    Args:
        master: `local[N]`, `spark://HOST:PORT`, `yarn`, `k8s://https://HOST:PORT`, ...
        conf: Spark settings `{key: value}` (or `["key=value", ...]`).
        timeout: seconds to reach the master.
        batch_arguments: as `run_spark_batch` (`pairs`, `outdir`, `saved_model`, ...).
    """
    from pyspark.sql import SparkSession

    conf = parse_conf(conf) if isinstance(conf, (list, tuple)) else dict(conf or {})
    if batch_arguments.get("saved_model") is not None:  # a wrong export fails before a JVM starts
        pair_runs.PairPlan.from_export(batch_arguments["saved_model"], batch_arguments.get("controls"),
                                       batch_arguments.get("size"))
    master = check_master(master, timeout)
    if SparkSession.getActiveSession() is not None:  # getOrCreate would return it, whatever the master
        raise InvalidArgumentError("expected no active SparkSession in this process (call run_spark_batch(spark, "
                                   f"...) with it). Received: master={master}")
    handler = signal.getsignal(signal.SIGINT)  # PySpark installs its own for the session's life
    spark = session(master, conf, timeout=timeout)
    try:
        return run_spark_batch(spark, **batch_arguments)
    finally:
        spark.stop()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, handler)
