"""Batches: what reusing each style's targets saves, and the Beam DirectRunner's throughput.

    python -m benchmarks.batch                       # 128 px, 20 steps, 3 contents x 2 styles
    python -m benchmarks.batch --size 64 --steps 5   # a smoke run

1. Style targets once per style: `tf_nst.runs.batch.run_batch` with one shared Stylizer
   (its style cache computes each style's Grams once) against the same batch with
   the cache cleared after every pair (every pair recomputes its style's targets).
   Rounds alternate; the same Stylizer (already traced) serves both.
2. Throughput of `tf_nst.runs.beam` on the DirectRunner with 1 and 2 workers
   (multi_processing, and multi_threading for 2), in pairs per minute of wall time
   (pipeline start, one model load per worker and writing included), next to the
   library batch on the same pairs.

Uses only public names. Prints a JSON summary at the end (with the CPU model).
"""

import argparse
import json
import os
import shutil
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from benchmarks.machine import cpu_model




def make_images(folder, count, prefix, seed, shape):
    """`count` smooth random-texture PNGs (deterministic)."""
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for index in range(count):
        height, width = shape
        y, x = np.mgrid[0:height, 0:width]
        phase = rng.uniform(0, 6.28, 3)
        image = np.stack([127 + 100 * np.sin(x / (7 + 3 * c) + y / (11 + c) + phase[c]) for c in range(3)], -1)
        image += rng.normal(0, 12, image.shape)
        path = os.path.join(folder, f"{prefix}{index}.png")
        Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(path)
        paths.append(path)
    return paths


def style_target_saving(stylizer, pairs, root, rounds=2, log=print):
    """Seconds of the batch with the style cache against the cache cleared after every pair."""
    from tf_nst.runs import batch

    if not hasattr(stylizer, "clear_style_cache"):
        return estimated_style_target_saving(stylizer, pairs, root, log)
    stylizer.stylize(pairs[0].content, [pairs[0].style])  # trace once, outside the timings
    timings = {"reused": [], "recomputed": []}
    infos = {}
    for round_index in range(rounds):
        for mode in ("reused", "recomputed"):
            outdir = os.path.join(root, f"saving-{mode}-{round_index}")
            stylizer.clear_style_cache()
            before = dict(stylizer.style_cache_info())
            callback = (lambda result: stylizer.clear_style_cache()) if mode == "recomputed" else None
            started = time.perf_counter()
            summary = batch.run_batch(stylizer, pairs, outdir, callback=callback)
            timings[mode].append(time.perf_counter() - started)
            after = stylizer.style_cache_info()
            infos[mode] = {"hits": after["hits"] - before["hits"], "misses": after["misses"] - before["misses"]}
            if not summary.all_ok:
                raise RuntimeError(summary.summary_line())
            log(f"[style targets] round {round_index + 1}/{rounds} {mode}: {timings[mode][-1]:.2f} s "
                f"({infos[mode]['misses']} computed, {infos[mode]['hits']} reused)")
    reused, recomputed = min(timings["reused"]), min(timings["recomputed"])
    return {"status": "measured", "pairs": len(pairs), "seconds_reused": timings["reused"],
            "seconds_recomputed": timings["recomputed"], "cache": infos,
            "saved_seconds_per_pair": (recomputed - reused) / len(pairs),
            "saved_fraction": (recomputed - reused) / recomputed}


def estimated_style_target_saving(stylizer, pairs, root, log=print):
    """Without a style cache in the Stylizer: time one style's Grams (a backbone forward pass and
    the Grams) and the batch's pairs; the saving is that cost for every pair after a style's first."""
    import tensorflow as tf

    from tf_nst.runs import batch
    from tf_nst.io.images import load_image
    from tf_nst.engine.losses import gram_matrix
    from tf_nst.serving.client import prepare_image

    style = prepare_image(load_image(pairs[0].style).rgb, stylizer.size)
    grams = tf.function(lambda x: [gram_matrix(value) for value in stylizer.extractor(x).values()])
    x = tf.constant(style[None], tf.float32)
    grams(x)
    seconds = []
    for _ in range(10):
        started = time.perf_counter()
        [value.numpy() for value in grams(x)]
        seconds.append(time.perf_counter() - started)
    style_seconds = float(np.median(seconds))
    stylizer.stylize(pairs[0].content, [pairs[0].style])  # trace once, outside the timing
    started = time.perf_counter()
    summary = batch.run_batch(stylizer, pairs, os.path.join(root, "saving"))
    batch_seconds = time.perf_counter() - started
    styles = len({pair.style for pair in pairs})
    saved = style_seconds * (len(pairs) - styles)
    log(f"[style targets] one style's Grams {style_seconds * 1000:.1f} ms; batch {batch_seconds:.2f} s "
        f"({summary.summary_line()})")
    return {"status": "estimated (Stylizer without style cache)", "pairs": len(pairs),
            "style_grams_seconds": style_seconds, "batch_seconds": batch_seconds,
            "saved_seconds_per_pair": saved / len(pairs), "saved_fraction": saved / (batch_seconds + saved)}


def beam_throughput(model, pairs, root, configurations, log=print):
    """Pairs per minute of the DirectRunner pipeline for each `(label, options)`."""
    try:
        from tf_nst.runs import beam as nst_beam
    except ImportError as error:
        return {"status": "skipped", "reason": str(error)}
    # multi_processing workers are fresh Python processes: they must import tf_nst too.
    repository = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [repository, os.environ.get("PYTHONPATH")]))
    results = {}
    for label, options in configurations:
        outdir = os.path.join(root, f"beam-{label}")
        started = time.perf_counter()
        summary = nst_beam.run(pairs=pairs, outdir=outdir, saved_model=model, pipeline_options=options)
        seconds = time.perf_counter() - started
        if not summary.all_ok:
            raise RuntimeError(summary.summary_line())
        per_pair = [result.seconds for result in summary.results]
        results[label] = {"options": options, "seconds": seconds, "pairs_per_minute": 60 * len(pairs) / seconds,
                          "median_pair_seconds": float(np.median(per_pair))}
        log(f"[beam {label}] {len(pairs)} pairs in {seconds:.1f} s: {results[label]['pairs_per_minute']:.1f} pairs/min")
    return {"status": "measured", "pairs": len(pairs), "runs": results}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=128, help="longest side of the outputs (px)")
    parser.add_argument("--steps", type=int, default=20, help="L-BFGS evaluations per pair")
    parser.add_argument("--contents", type=int, default=3)
    parser.add_argument("--styles", type=int, default=2)
    parser.add_argument("--beam-contents", type=int, default=4, help="contents of the throughput batch (x styles)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--backbone", default="vgg16-hed")
    args = parser.parse_args(argv)

    from tf_nst.runs import batch
    from tf_nst.serving import export
    from tf_nst.engine.stylizer import Stylizer

    report = {"cpu": cpu_model(), "logical_cpus_usable": len(os.sched_getaffinity(0)),
              "loadavg_before": os.getloadavg(), "size": args.size, "steps": args.steps, "backbone": args.backbone}
    print(f"CPU: {report['cpu']} ({report['logical_cpus_usable']} usable logical CPUs), "
          f"load average {report['loadavg_before'][0]:.2f}")
    root = tempfile.mkdtemp(prefix="tf_nst-batch-bench-")
    try:
        shape = (args.size * 3 // 4, args.size)
        contents = make_images(os.path.join(root, "contents"), max(args.contents, args.beam_contents), "photo", 0, shape)
        styles = make_images(os.path.join(root, "styles"), args.styles, "style", 1, (args.size, args.size))
        stylizer = Stylizer(backbone=args.backbone, size=args.size, num_steps=args.steps, scales=1)

        pairs = batch.make_pairs(contents[:args.contents], styles)
        print(f"1. Style targets: {args.contents} contents x {args.styles} styles, {args.size} px, {args.steps} steps")
        report["style_targets"] = style_target_saving(stylizer, pairs, root, args.rounds)

        beam_pairs = batch.make_pairs(contents[:args.beam_contents], styles)
        print(f"2. DirectRunner throughput: {len(beam_pairs)} pairs, {args.size} px, {args.steps} steps")
        started = time.perf_counter()
        library = batch.run_batch(stylizer, beam_pairs, os.path.join(root, "library"))
        library_seconds = time.perf_counter() - started
        report["library_batch"] = {"seconds": library_seconds, "pairs_per_minute": 60 * len(beam_pairs) / library_seconds}
        print(f"[library batch] {len(beam_pairs)} pairs in {library_seconds:.1f} s: "
              f"{report['library_batch']['pairs_per_minute']:.1f} pairs/min ({library.summary_line()})")
        model = export.export_model(stylizer, os.path.join(root, "models", "tf_nst"), max_steps=max(args.steps, 1),
                                    max_pixels=max(args.size ** 2, 64 * 64))
        report["beam"] = beam_throughput(model, beam_pairs, root, [
            ("1 worker (multi_processing)", ["direct_num_workers=1", "direct_running_mode=multi_processing"]),
            ("2 workers (multi_processing)", ["direct_num_workers=2", "direct_running_mode=multi_processing"]),
            ("2 workers (multi_threading)", ["direct_num_workers=2", "direct_running_mode=multi_threading"]),
        ])
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report["loadavg_after"] = os.getloadavg()
    print(json.dumps(report, indent=1, default=str))
    return report


if __name__ == "__main__":
    main()
