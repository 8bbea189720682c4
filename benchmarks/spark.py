"""Batches on a Spark standalone cluster started here, against the same batch on one machine.

    python -m benchmarks.spark                          # 64 px, 10 steps, float32
    python -m benchmarks.spark --size 48 --steps 2      # a smoke run

1. The 4-pair batch (2 contents x 2 styles) with `tf_nst.runs.batch.run_batch` (one float32
   Stylizer, built and traced inside the timing) and with `tf_nst.runs.spark.run_spark_batch`
   on a master and two 1-core workers (tests/spark_cluster.py) on 127.0.0.1; the Spark run is
   timed cold (each executor's Python worker imports TensorFlow and loads the export) and warm.
2. The cluster's start-up cost: master and workers registered; a SparkSession with its executors.
3. Pairs per minute on the cluster with one executor (`spark.cores.max=1`) and with two, warm
   (after a warm-up batch), over `--throughput-contents` x 2 styles.

On a 2-core machine TensorFlow already uses both cores for one image, so two executors
share the cores one already used. Uses only public names; prints a JSON summary (CPU, precision).
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from benchmarks.batch import make_images  # noqa: E402
from tests.spark_cluster import StandaloneCluster, java_missing_reason  # noqa: E402
from benchmarks.machine import cpu_model




def spark_session(master, cores_max):
    from pyspark.sql import SparkSession

    return (SparkSession.builder.master(master).appName(f"tf-nst benchmark ({cores_max} executors)")
            .config("spark.pyspark.python", sys.executable).config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1").config("spark.executor.memory", "1g")
            .config("spark.cores.max", str(cores_max)).config("spark.ui.showConsoleProgress", "false")
            .getOrCreate())


def timed_spark_batch(spark, pairs, outdir, model, executors):
    from tf_nst.runs import spark as nst_spark

    started = time.perf_counter()
    summary = nst_spark.run_spark_batch(spark, pairs, outdir, model, min_executors=executors)
    seconds = time.perf_counter() - started
    if summary.ok != len(pairs):
        raise RuntimeError(f"expected {len(pairs)} ok pairs. Received: {summary.summary_line()}")
    return seconds, sorted({result.executor for result in summary.results})


def peak_rss_mib(executors):
    """Peak resident memory (VmHWM) of the executors' Python workers (`host:pid`), in MiB."""
    peaks = []
    for executor in executors:
        try:
            with open(f"/proc/{executor.rsplit(':', 1)[1]}/status") as stream:
                peaks += [int(line.split()[1]) / 1024 for line in stream if line.startswith("VmHWM:")]
        except OSError:
            continue
    return max(peaks) if peaks else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--throughput-contents", type=int, default=4, help="contents of the throughput batch (x 2 styles)")
    args = parser.parse_args(argv)
    if java_missing_reason():
        raise SystemExit(java_missing_reason())
    from tf_nst.engine.stylizer import Stylizer
    from tf_nst.runs import batch
    from tf_nst.serving import export

    root = tempfile.mkdtemp(prefix="tf_nst-spark-bench-")
    report = {"cpu": cpu_model(), "cores": os.cpu_count(), "precision": "float32", "size": args.size,
              "steps": args.steps, "backbone": "vgg16-hed", "load_average_before": os.getloadavg()[0]}
    contents = make_images(os.path.join(root, "contents"), max(2, args.throughput_contents), "photo", 0, (48, 64))
    styles = make_images(os.path.join(root, "styles"), 2, "style", 1, (64, 64))
    pairs = batch.make_pairs(contents[:2], styles)
    throughput_pairs = batch.make_pairs(contents[:args.throughput_contents], styles)

    cluster = StandaloneCluster(os.path.join(root, "cluster"), workers=2, cores=1, memory="3g")
    cluster.start()  # before the local batch, so neither figure pays for the other's start
    report["cluster_start_seconds"] = cluster.start_seconds
    try:
        started = time.perf_counter()
        stylizer = Stylizer(backbone="vgg16-hed", size=args.size, num_steps=args.steps, scales=1, precision="float32")
        library = batch.run_batch(stylizer, pairs, os.path.join(root, "library"))
        report["local_batch_seconds"] = time.perf_counter() - started
        if library.ok != len(pairs):
            raise RuntimeError(library.summary_line())
        started = time.perf_counter()
        warm = batch.run_batch(stylizer, throughput_pairs, os.path.join(root, "library-warm"))
        report["local_pairs_per_minute_warm"] = 60 * warm.ok / (time.perf_counter() - started)
        model = os.path.dirname(export.export_model(stylizer, os.path.join(root, "models", "tf_nst"),
                                                    max_steps=args.steps, max_pixels=128 * 128))
        from tf_nst.runs import spark as nst_spark

        for executors in (2, 1):
            started = time.perf_counter()
            spark = spark_session(cluster.master_url, executors)
            nst_spark.wait_for_executors(spark, executors)
            report[f"session_seconds_{executors}"] = time.perf_counter() - started
            label = f"{executors}_executor{'s' if executors > 1 else ''}"
            report[f"cluster_batch_cold_seconds_{label}"], used = timed_spark_batch(
                spark, pairs, os.path.join(root, f"cold-{executors}"), model, executors)
            report[f"cluster_batch_warm_seconds_{label}"], _ = timed_spark_batch(
                spark, pairs, os.path.join(root, f"warm-{executors}"), model, executors)
            seconds, used = timed_spark_batch(spark, throughput_pairs, os.path.join(root, f"throughput-{executors}"),
                                              model, executors)
            report[f"pairs_per_minute_{label}"] = 60 * len(throughput_pairs) / seconds
            report[f"python_workers_used_{label}"] = len(used)
            report[f"python_worker_peak_rss_mib_{label}"] = peak_rss_mib(used)
            spark.stop()
            print(json.dumps(report, indent=1), flush=True)
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
    report["throughput_pairs"] = len(throughput_pairs)
    report["load_average_after"] = os.getloadavg()[0]  # the machine is shared: read figures with it
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
