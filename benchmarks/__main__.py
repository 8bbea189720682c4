"""Run the benchmark suite and write benchmarks/RESULTS.md and benchmarks/results.json.

    python -m benchmarks                       # everything (long: see RESULTS.md for timings)
    python -m benchmarks --quick               # tiny sizes, a smoke run in a few minutes
    python -m benchmarks --only speed,memory   # some sections; the others are kept from results.json

Sections: speed (figures 1, 2, 4a), quality (3, 4b), memory (5), served (6).
Every section records the machine's load average before and after it.

Round-2 capabilities have their own commands, whose figures (with the command and CPU of each
run) are kept in benchmarks/more_results.md and rendered into RESULTS.md:
`python -m benchmarks.tiling` (one evaluation, tiled vs untiled), `python -m benchmarks.print_size`
(whole runs with the memory budget), `python -m benchmarks.batch` (style-target reuse, Beam
DirectRunner throughput), `python -m benchmarks.video` (temporal warping error).
"""

import argparse
import datetime
import json
import os
import platform

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = os.path.dirname(os.path.abspath(__file__))
SECTIONS = ("speed", "quality", "memory", "served")


def machine():
    """What this run ran on."""
    import keras
    import tensorflow as tf

    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                 platform.processor())
    flags = next((line.split(":", 1)[1].split() for line in open("/proc/cpuinfo") if line.startswith("flags")), [])
    memory = next((int(line.split()[1]) * 1024 for line in open("/proc/meminfo") if line.startswith("MemTotal")), 0)
    return {"cpu": model, "logical_cpus_usable": len(os.sched_getaffinity(0)),
            "simd": [flag for flag in ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile") if flag in flags],
            "memory_bytes": memory, "python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__, "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on)"),
            "platform": platform.platform()}


def _section(name, function, *args, **kwargs):
    started = datetime.datetime.now()
    before = os.getloadavg()
    value = function(*args, **kwargs)
    # Sections may be re-run on another machine and merged: each records its own CPU.
    return {"started": started.isoformat(timespec="seconds"), "cpu": machine()["cpu"],
            "minutes": (datetime.datetime.now() - started).total_seconds() / 60,
            "loadavg_before": before, "loadavg_after": os.getloadavg(), "result": value}


def run(sections, speed_sizes, quality_sizes, memory_sizes, repeats, steps, memory_steps, served_size,
        reference_steps, coarse_to_fine_steps=(100, 60, 80), bfloat16_quality_max=512, log=print):
    from benchmarks import memory, quality, served, timing
    import tensorflow as tf

    results = {}
    if "speed" in sections:
        def speed():
            figures = {"matmul_float32": timing.matmul_throughput(repeats=repeats),
                       "matmul_bfloat16": timing.matmul_throughput(repeats=repeats, dtype=tf.bfloat16)}
            figures["sizes"] = [timing.speed_figures(size, steps, repeats, log=log) for size in speed_sizes]
            figures["matmul_float32_after"] = timing.matmul_throughput(repeats=repeats)
            return figures
        results["speed"] = _section("speed", speed)
    if "quality" in sections:
        # The default `stylize` is single-resolution, the reference's own setting: its time to the
        # bar is read from the reference's trace. The candidate is the coarse-to-fine schedule.
        results["quality"] = _section("quality", lambda: [
            quality.quality_run(size, [quality.coarse_to_fine_schedule(size, coarse_to_fine_steps)],
                                reference_steps=reference_steps, log=log, bfloat16=size <= bfloat16_quality_max)
            for size in quality_sizes])
    if "memory" in sections:
        results["memory"] = _section("memory", lambda: [
            memory.measure(size, optimizer, memory_steps) for size in memory_sizes for optimizer in ("lbfgs", "adam")])
    if "served" in sections:
        results["served"] = _section("served", served.served_vs_library, served_size, 10, repeats, log=log)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SECTIONS), help="Comma list of sections to run.")
    parser.add_argument("--sizes", default="256,512", help="Speed sizes (figures 1, 2, 4).")
    parser.add_argument("--quality-sizes", default="256,512", help="Time-to-quality sizes (figure 3).")
    parser.add_argument("--memory-sizes", default="512,1024", help="Peak-memory sizes (figure 5).")
    parser.add_argument("--repeats", type=int, default=5, help="Timed rounds per figure (median, min-max).")
    parser.add_argument("--steps", type=int, default=3, help="Evaluations per timed round.")
    parser.add_argument("--served-size", type=int, default=256, help="Image size for figure 6.")
    parser.add_argument("--quick", action="store_true", help="Tiny sizes and counts: checks the harness only.")
    parser.add_argument("--output", default=HERE, help="Folder for RESULTS.md and results.json.")
    args = parser.parse_args(argv)
    sections = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in sections if name not in SECTIONS]
    if unknown:
        parser.error(f"unknown sections {unknown}; expected some of {', '.join(SECTIONS)}")
    sizes = dict(speed=args.sizes, quality=args.quality_sizes, memory=args.memory_sizes)
    settings = dict(repeats=args.repeats, steps=args.steps, memory_steps=3, served_size=args.served_size, reference_steps=150)
    if args.quick:
        sizes = dict(speed="64", quality="64", memory="64")
        settings = dict(repeats=2, steps=1, memory_steps=1, served_size=64, reference_steps=10,
                        coarse_to_fine_steps=[10, 5, 5], bfloat16_quality_max=64)
    parse = lambda text: [int(size) for size in text.split(",") if size.strip()]  # noqa: E731
    from benchmarks import report

    json_path = os.path.join(args.output, "results.json" if not args.quick else "results-quick.json")
    results = run(sections, parse(sizes["speed"]), parse(sizes["quality"]), parse(sizes["memory"]),
                  log=lambda message: print(message, flush=True), **settings)
    previous = {}
    if os.path.exists(json_path):  # read now: another section may have been written meanwhile
        with open(json_path) as stream:
            previous = json.load(stream)
    merged = dict(previous)
    merged.update(results)
    merged["machine"] = machine()
    merged["quick"] = args.quick
    merged["updated"] = datetime.datetime.now().isoformat(timespec="seconds")
    os.makedirs(args.output, exist_ok=True)
    with open(json_path, "w") as stream:
        json.dump(merged, stream, indent=1, default=float)
    markdown_path = os.path.join(args.output, "RESULTS.md" if not args.quick else "RESULTS-quick.md")
    with open(markdown_path, "w") as stream:
        stream.write(report.render(merged))
    print(f"Wrote {markdown_path} and {json_path}")


if __name__ == "__main__":
    main()
