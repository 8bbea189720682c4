"""Batches on Apache Spark: a real standalone cluster (a master, two 1-core workers) started here.

The Spark outputs equal the local float32 batch pixel for pixel; a corrupt input is a
manifest record; both workers ran pairs; a rerun skips every done pair; a cancel keeps
what finished. `local[2]` runs through the CLI first: a process has one SparkContext at a
time, and the cluster's session lives until the module's end.
"""

import os
import signal
import sys

import numpy as np
import pytest
from conftest import write_batch_inputs
from PIL import Image

pytest.importorskip("pyspark", reason="pyspark not installed (pip install -r requirements-spark.txt)")

from spark_cluster import StandaloneCluster, free_port, java_missing_reason

from tf_nst.engine.stylizer import Stylizer
from tf_nst.errors import InvalidArgumentError, ServingError
from tf_nst.io.provenance import read_provenance
from tf_nst.runs import batch
from tf_nst.runs.records import read_manifest
from tf_nst.runs import spark as nst_spark
from tf_nst.serving import export

SIZE = 48
STEPS = 2
needs_java = pytest.mark.skipif(java_missing_reason() is not None, reason=str(java_missing_reason()))


@pytest.fixture(scope="module")
def workers(tmp_path_factory):
    """A standalone master and two workers (1 core, 3g each) on 127.0.0.1, starting (see `cluster`)."""
    if java_missing_reason():
        yield None
        return
    processes = StandaloneCluster(tmp_path_factory.mktemp("cluster"), workers=2, cores=1, memory="3g")
    processes.launch()
    yield processes
    processes.stop()


@pytest.fixture(scope="module")
def setup(workers, tmp_path_factory):
    """Four good pairs and one with a corrupt content, a one-scale float32 vgg16-hed export, the local batch.

    The cluster's JVMs start meanwhile.
    """
    root = tmp_path_factory.mktemp("spark")
    contents, styles = write_batch_inputs(root)
    good = batch.make_pairs([contents / "city.png", contents / "leaf.png"], [styles])
    pairs = good + [batch.Pair(str(contents / "broken.jpg"), str(styles / "waves.png"))]
    stylizer = Stylizer(backbone="vgg16-hed", size=SIZE, num_steps=STEPS, scales=1, seed=7, precision="float32")
    model = export.export_model(stylizer, str(root / "models" / "tf_nst"), max_steps=10, max_pixels=96 * 96)
    library = batch.run_batch(stylizer, good, root / "library")
    assert library.ok == 4
    return root, pairs, os.path.dirname(model)


@pytest.fixture(scope="module")
def cluster(workers, setup):
    """The started cluster (every worker registered) and a session on it."""
    if workers is None:
        pytest.skip(java_missing_reason())
    from pyspark.sql import SparkSession

    workers.wait()
    handler = signal.getsignal(signal.SIGINT)  # PySpark installs its own while a session lives
    spark = (SparkSession.builder.master(workers.master_url).appName("tf-nst tests")
             .config("spark.pyspark.python", sys.executable).config("spark.driver.host", "127.0.0.1")
             .config("spark.driver.bindAddress", "127.0.0.1").config("spark.executor.memory", "1g")
             .config("spark.ui.showConsoleProgress", "false").getOrCreate())
    yield workers, spark
    spark.stop()
    signal.signal(signal.SIGINT, handler)


def assert_same_pixels(outdir, library):
    names = sorted(name for name in os.listdir(outdir) if name.endswith(".png"))
    assert names == sorted(name for name in os.listdir(library) if name.endswith(".png"))
    for name in names:
        np.testing.assert_array_equal(np.asarray(Image.open(outdir / name)), np.asarray(Image.open(library / name)))
    return names


@needs_java
def test_cli_local_master_equals_local_batch(setup, tmp_path, monkeypatch):
    """`cli.py batch --engine spark --master local[2]`: runs before the cluster's session exists (one per process)."""
    from click.testing import CliRunner

    from tf_nst.cli import app as cli

    root, pairs, model = setup
    good = pairs[:4]
    monkeypatch.chdir(tmp_path)  # relative paths: executors get absolute ones
    contents = sorted({os.path.relpath(pair.content) for pair in good})
    handler = signal.getsignal(signal.SIGINT)
    result = CliRunner().invoke(cli.cli, [
        "batch", *contents, "-s", good[0].style, "-s", good[1].style, "-o", "local2", "--saved-model", model,
        "--engine", "spark", "--master", "local[2]", "--conf", "spark.ui.showConsoleProgress=false",
        "--conf", "spark.driver.host=127.0.0.1", "--quiet"])
    assert result.exit_code == 0, result.output
    assert signal.getsignal(signal.SIGINT) is handler  # PySpark's handler goes with its session
    assert result.output.strip().splitlines()[-1].startswith("4 pairs: 4 ok, 0 skipped, 0 errors in ")
    assert_same_pixels(tmp_path / "local2", root / "library")
    records = read_manifest(tmp_path / "local2" / batch.MANIFEST_NAME)
    assert sorted((record["content"], record["status"]) for record in records) == sorted(
        (content, "ok") for content in contents for _ in range(2))
    assert all(record["executor"] for record in records)
    assert sorted(record["output"] for record in records) == sorted(  # as given, like the local batch's manifest
        os.path.join("local2", batch.output_name(pair)) for pair in good)


@needs_java
def test_cluster_batch_equals_local_batch_and_reruns_skip(setup, cluster):
    root, pairs, model = setup
    workers, spark = cluster
    outdir = root / "cluster"
    summary = nst_spark.run_spark_batch(spark, pairs, outdir, model, min_executors=2)
    assert (summary.ok, summary.skipped, summary.errors, summary.total) == (4, 0, 1, 5), summary.results
    names = assert_same_pixels(outdir, root / "library")
    assert np.asarray(Image.open(outdir / "leaf--dots.png")).shape[2] == 4
    stored, reference = read_provenance(outdir / "city--waves.png"), read_provenance(root / "library" / "city--waves.png")
    assert (stored["settings"], stored["inputs_sha256"]) == (reference["settings"], reference["inputs_sha256"])

    records = read_manifest(outdir / batch.MANIFEST_NAME)
    assert [(record["content"], record["style"]) for record in records] == [(p.content, p.style) for p in pairs]
    broken = [record for record in records if record["status"] == "error"]
    assert [record["content"] for record in broken] == [pairs[-1].content]
    assert broken[0]["error"] == f"{pairs[-1].content}: cannot decode image (starts like a JPEG file but is corrupt)"
    # Both workers ran pairs (each record names its Python worker), each loading the export once.
    ran = {record["executor"] for record in records}
    assert {workers.worker_of(int(executor.rsplit(":", 1)[1])) for executor in ran} == {0, 1}
    for executor in ran:
        loads = [record["loaded_export"] for record in records if record["executor"] == executor
                 and record["status"] == "ok"]
        assert sum(loads) == (1 if loads else 0)

    mtimes = {name: os.stat(outdir / name).st_mtime_ns for name in names}
    again = nst_spark.run_spark_batch(spark, pairs, outdir, model)
    assert (again.ok, again.skipped, again.errors) == (0, 4, 1)
    assert {name: os.stat(outdir / name).st_mtime_ns for name in names} == mtimes
    records = read_manifest(outdir / batch.MANIFEST_NAME)
    assert len(records) == 10 and len({record["run"] for record in records}) == 2


@needs_java
def test_cancel_keeps_finished_outputs(setup, cluster):
    root, pairs, model = setup
    _, spark = cluster
    outdir = root / "cancelled"

    def first_output_written():
        return os.path.isdir(outdir) and any(name.endswith(".png") for name in os.listdir(outdir))

    summary = nst_spark.run_spark_batch(spark, pairs, outdir, model, should_stop=first_output_written)
    assert summary.interrupted and summary.total == 5
    written = {name for name in os.listdir(outdir) if name.endswith(".png")}
    assert written and summary.ok == len(written) < 4
    assert {os.path.basename(r.output) for r in summary.results if r.status == "ok"} == written
    assert {r.status for r in summary.results if os.path.basename(r.output) not in written} == {"interrupted"}
    for name in written:  # whole files, equal to the local batch's
        np.testing.assert_array_equal(np.asarray(Image.open(outdir / name)),
                                      np.asarray(Image.open(root / "library" / name)))


def test_masters_and_arguments_are_checked_before_a_job(setup, tmp_path):
    _, pairs, model = setup
    with pytest.raises(InvalidArgumentError, match=r"expected a Spark master URL .*Received: master='mesos://x:5050'"):
        nst_spark.check_master("mesos://x:5050")
    port = free_port()
    with pytest.raises(ServingError, match=f"expected a reachable Spark master within 2 s. Received: "
                                           f"master=spark://127.0.0.1:{port}"):
        nst_spark.check_master(f"spark://127.0.0.1:{port}", timeout=2)
    assert nst_spark.check_master("local[2]") == "local[2]"
    assert nst_spark.parse_conf(["spark.executor.memory=4g", "a.b=x=y"]) == {"spark.executor.memory": "4g",
                                                                             "a.b": "x=y"}
    with pytest.raises(InvalidArgumentError, match="expected --conf KEY=VALUE. Received: 'novalue'"):
        nst_spark.parse_conf(["novalue"])
    with pytest.raises(InvalidArgumentError, match="not an object-store URL. Received: outdir=s3a://bucket/out"):
        nst_spark.run_spark_batch(None, pairs, "s3a://bucket/out", model)
    with pytest.raises(ServingError, match="expected a SavedModel folder"):
        nst_spark.run_spark_batch(None, pairs, tmp_path / "out", tmp_path)
    with pytest.raises(InvalidArgumentError, match="expected controls among"):
        nst_spark.run_spark_batch(None, pairs, tmp_path / "out", model, controls={"stpes": 3})


def test_cli_unreachable_master_is_one_error_line(setup, tmp_path):
    from click.testing import CliRunner

    from tf_nst.cli import app as cli

    _, pairs, model = setup
    port = free_port()
    common = ["batch", pairs[0].content, "-s", pairs[0].style, "-o", str(tmp_path), "--saved-model", model]
    result = CliRunner().invoke(cli.cli, [*common, "--engine", "spark", "--master", f"spark://127.0.0.1:{port}"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith(
        f"Error: expected a reachable Spark master within 10 s. Received: master=spark://127.0.0.1:{port} (")
    result = CliRunner().invoke(cli.cli, [*common, "--engine", "spark", "--master", "nowhere"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "Error: expected a Spark master URL (local, local[N], local[*], spark://HOST:PORT[,HOST:PORT], yarn or "
        "k8s://https://HOST:PORT). Received: master='nowhere'")
    result = CliRunner().invoke(cli.cli, [*common, "--master", "local[2]", "--runner", "DirectRunner"])
    assert result.exit_code == 2 and "expected --engine spark with --master/--conf, and no --runner" in result.output
    result = CliRunner().invoke(cli.cli, ["batch", *common[1:6], "--engine", "spark"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "Error: expected --saved-model with --engine spark (workers load the export)")


def test_workers_run_the_drivers_python_on_a_local_master_unless_set():
    """PySpark starts workers with PYSPARK_PYTHON or `python3` on PATH (a venv not activated: no packages)."""
    assert nst_spark.worker_python("local[1]", {}, {}) == sys.executable
    assert nst_spark.worker_python("local[*]", {}, {"PYSPARK_PYTHON": "/opt/py"}) == "/opt/py"
    assert nst_spark.worker_python("local", {"spark.pyspark.python": "/a"}, {"PYSPARK_PYTHON": "/b"}) == "/a"
    assert nst_spark.worker_python("spark://10.0.0.5:7077", {}, {}) is None  # a cluster's Python is the user's
    assert nst_spark.worker_python("yarn", {"spark.pyspark.python": "/a"}, {}) == "/a"


def test_a_gateway_that_exits_is_launched_again_and_other_errors_are_not():
    """`start_session`: a JVM that exits before reporting its port (JAVA_GATEWAY_EXITED) is launched again, up to
    the attempts given; any other error, and the last attempt's, reach the caller."""
    class Builder:
        def __init__(self, errors):
            self.errors, self.calls = list(errors), 0

        def getOrCreate(self):
            self.calls += 1
            if self.errors:
                raise self.errors.pop(0)
            return "session"

    exited = RuntimeError("[JAVA_GATEWAY_EXITED] Java gateway process exited before sending its port number.")
    flaky = Builder([exited, exited])
    assert nst_spark.start_session(flaky, attempts=3, pause=0) == "session" and flaky.calls == 3
    failing = Builder([exited, exited, exited])
    with pytest.raises(RuntimeError, match="JAVA_GATEWAY_EXITED"):
        nst_spark.start_session(failing, attempts=3, pause=0)
    assert failing.calls == 3
    other = Builder([RuntimeError("no such master")])
    with pytest.raises(RuntimeError, match="no such master"):
        nst_spark.start_session(other, attempts=3, pause=0)
    assert other.calls == 1
