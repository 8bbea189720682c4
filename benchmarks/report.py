"""Render results.json as RESULTS.md: figures, targets met, and what limits the rest.

    python -m benchmarks.report    # re-render RESULTS.md from results.json and closing_note.md
"""

import json
import os

GB = 1e9
HERE = os.path.dirname(os.path.abspath(__file__))
CLOSING_NOTE = os.path.join(HERE, "closing_note.md")
# Print size, batches and video are measured by their own commands (benchmarks/print_size.py,
# tiling.py, batch.py, video.py); their figures, with the command and CPU of each run, live here.
MORE_RESULTS = os.path.join(HERE, "more_results.md")


def _fmt(summary, scale=1.0, digits=3):
    if not summary:
        return "n/a"
    return (f"{summary['median'] * scale:.{digits}f} ({summary['min'] * scale:.{digits}f}–"
            f"{summary['max'] * scale:.{digits}f})")


def _load(section):
    if not section:
        return "n/a"
    before, after = section["loadavg_before"], section["loadavg_after"]
    cpu = f" on {section['cpu']}" if section.get("cpu") else ""
    return (f"started {section['started']}{cpu}, {section['minutes']:.1f} min, load average (1/5/15 min) "
            f"{before[0]:.2f}/{before[1]:.2f}/{before[2]:.2f} before, {after[0]:.2f}/{after[1]:.2f}/{after[2]:.2f} after")


def _mark(met):
    return "n/a" if met is None else ("**met**" if met else "**not met**")


def targets(results):
    """`[(figure, target, measured, met)]` from the results."""
    rows = []
    speed = (results.get("speed") or {}).get("result")
    size_512 = next((s for s in (speed or {}).get("sizes", []) if s["size"] == 512), None)
    if size_512:
        loops = size_512["loops"]
        key = "project_over_this_cpu" if "project_over_this_cpu" in loops["tf_tutorial"] else "project_over_this"
        wall = lambda name: loops[name]["project_over_this"]["median"]  # noqa: E731
        tutorial, keras_io = loops["tf_tutorial"][key]["median"], loops["keras_io"][key]["median"]
        label = " CPU time (wall {:.3f}×)" if key == "project_over_this_cpu" else ""
        rows.append(("1", "≤ 0.95× the tutorial loop per evaluation at 512 px",
                     f"{tutorial:.3f}×" + label.format(wall("tf_tutorial")), tutorial <= 0.95))
        rows.append(("1", "≤ 0.40× the keras.io loop per evaluation at 512 px",
                     f"{keras_io:.3f}×" + label.format(wall("keras_io")), keras_io <= 0.40))
        efficiency = _efficiency(speed, size_512, "tf_nst_lbfgs")
        cpu_efficiency = _cpu_efficiency(speed, size_512, "tf_nst_lbfgs")
        judged = cpu_efficiency if cpu_efficiency is not None else efficiency
        rows.append(("2", "≥ 75 % of fp32 matmul throughput at 512 px",
                     f"{100 * judged:.0f} %" + (f" per CPU-second (wall {100 * efficiency:.0f} %)"
                                                if cpu_efficiency is not None else ""), judged >= 0.75))
        if "tf_nst_lbfgs_bfloat16" in loops:
            # The ratio column is float32 time / bf16 time: the speed-up itself.
            speedup = loops["tf_nst_lbfgs_bfloat16"][key]["median"]
            speedup_wall = wall("tf_nst_lbfgs_bfloat16")
            rows.append(("4", "bf16 ≥ 1.4× faster per evaluation (512 px)",
                         f"{speedup:.2f}×" + (f" CPU time (wall {speedup_wall:.2f}×)"
                                              if key == "project_over_this_cpu" else ""), speedup >= 1.4))
    quality = (results.get("quality") or {}).get("result") or []
    for run in quality:
        ref = run["reference"]
        # The default stylize is single-resolution: its time to the bar is the reference's own.
        default_ratio = ref["time_to_bar"] / ref["seconds"] if ref.get("time_to_bar") else None
        candidates = [c for c in run["candidates"] if c.get("ratio_to_bar") is not None]
        best = min(candidates, key=lambda c: c["ratio_to_bar"]) if candidates else None
        measured = (f"default (single-resolution) {default_ratio:.2f} of the time, evaluation "
                    f"{ref['steps_to_bar']}/{run['reference_steps']}" if default_ratio else "default n/a")
        measured += (f"; coarse-to-fine {best['sizes']}×{best['scale_steps']} {best['ratio_to_bar']:.2f}"
                     if best else "; coarse-to-fine: bar not reached")
        ratios = [r for r in [default_ratio, best and best["ratio_to_bar"]] if r]
        rows.append(("3", f"within 5 % of the 150-evaluation single-resolution loss in ≤ 1/3 of that run's "
                     f"time, {run['size']} px", measured, bool(ratios) and min(ratios) <= 1 / 3))
        if run.get("precision"):
            precision = run["precision"]
            if "time_to_bar" in precision:
                ratio = precision.get("ratio_to_bar")
                rows.append(("3, 4", f"the same bar with `--precision bfloat16` (single resolution, float32-rescored "
                             f"images), ≤ 1/3 of the float32 reference's time, {run['size']} px",
                             f"{ratio:.2f} of the time, evaluation {precision['steps_to_bar']}" if ratio
                             else "bar not reached", ratio is not None and ratio <= 1 / 3))
            change = precision["loss_change"]
            rows.append(("4", f"bf16 final loss within 10 % ({run['size']} px, float32-rescored)",
                         f"{100 * change:+.1f} %", abs(change) <= 0.10))
    memory = (results.get("memory") or {}).get("result") or []
    for entry in memory:
        if entry.get("size") == 1024 and "peak_rss_bytes" in entry:
            peak = entry["peak_rss_bytes"] / GB
            rows.append(("5", f"peak RSS ≤ 6 GB at 1024 px ({entry['optimizer']})", f"{peak:.2f} GB", peak <= 6))
    return rows


def _cpu_efficiency(speed, size_entry, name):
    loop = size_entry["loops"][name]
    if "cpu_seconds_per_evaluation" not in loop:
        return None
    rate = loop["flops_per_evaluation"] / loop["cpu_seconds_per_evaluation"]["median"]
    return rate / speed["matmul_float32"]["per_cpu_second"]["median"]


def _matmul_wall_peak(speed):
    """The best of the wall-time matmul medians measured before and after the loops."""
    return max(speed["matmul_float32"]["median"], (speed.get("matmul_float32_after") or {}).get("median", 0.0))


def _efficiency(speed, size_entry, name):
    loop = size_entry["loops"][name]
    rate = loop["flops_per_evaluation"] / loop["seconds_per_evaluation"]["median"]
    return rate / _matmul_wall_peak(speed)


def render(results):
    lines = ["# Benchmark results", "",
             "Generated by `python -m benchmarks` (see `benchmarks/__main__.py`); raw figures in "
             "`results.json`. This machine is shared with other busy processes, so every figure is a "
             "median (min–max) over interleaved rounds and the comparisons are ratios measured in the same "
             "run; absolute seconds are only indicative.", ""]
    machine = results.get("machine", {})
    if machine:
        lines += ["## Machine", "",
                  f"- CPU: {machine['cpu']}, {machine['logical_cpus_usable']} usable logical CPUs, "
                  f"SIMD {', '.join(machine['simd'])}; {machine['memory_bytes'] / GB:.0f} GB RAM",
                  f"- Python {machine['python']}, TensorFlow {machine['tensorflow']} (oneDNN {machine['onednn']}), "
                  f"Keras {machine['keras']}; {machine['platform']}",
                  f"- Results updated {results.get('updated')}" + (" (**quick mode: harness check only**)"
                                                                  if results.get("quick") else ""), ""]
    rows = targets(results)
    if rows:
        lines += ["## Targets", "", "| Figure | Target | Measured | |", "|---|---|---|---|"]
        lines += [f"| {figure} | {target} | {measured} | {_mark(met)} |" for figure, target, measured, met in rows]
        lines.append("")
    lines += _speed(results.get("speed"))
    lines += _quality(results.get("quality"))
    lines += _memory(results.get("memory"))
    lines += _served(results.get("served"))
    if os.path.exists(MORE_RESULTS):
        with open(MORE_RESULTS) as stream:
            lines += [stream.read().rstrip(), ""]
    lines += ["## Closing note", ""]
    met = [f"{target} ({measured})" for _, target, measured, ok in rows if ok]
    missed = [f"{target} ({measured})" for _, target, measured, ok in rows if ok is False]
    lines += [f"- Met: {'; '.join(met) if met else 'none'}.", f"- Not met: {'; '.join(missed) if missed else 'none'}."]
    if os.path.exists(CLOSING_NOTE):
        with open(CLOSING_NOTE) as stream:
            lines += ["", stream.read().strip()]
    return "\n".join(lines) + "\n"


def work_to_step(run, step, size):
    """Full-size-evaluation equivalents spent up to evaluation `step` (cost ∝ pixels)."""
    work, done = 0.0, 0
    for scale_size, steps in zip(run["sizes"], run["scale_steps"]):
        here = min(steps, step - done)
        work += max(here, 0) * (scale_size / size) ** 2
        done += steps
    return work


def _speed(section):
    if not section:
        return []
    speed = section["result"]
    lines = ["## Figures 1, 2 and 4a: seconds per loss+gradient evaluation", "",
             f"VGG19 with random weights (timing does not depend on the weights), square random images, "
             f"each loop warmed up, then rounds of {speed['sizes'][0]['steps_per_round']} evaluations "
             f"interleaved across loops. `tf_nst_*` is this project's in-graph loop (`Stylizer.pieces().run`, "
             f"default layers: content block4_conv2, style block1–5_conv1); `tf_tutorial` and `keras_io` are "
             f"the re-implemented reference loops (`benchmarks/reference_loops.py`). Ratio = this project's "
             f"L-BFGS time / the loop's time, per round. {_load(section)}.", "",
             f"Machine limit (same run): float32 matmul 4096² {_fmt(speed['matmul_float32'], 1e-9, 1)} GFLOP/s "
             f"(after the speed runs: {_fmt(speed.get('matmul_float32_after'), 1e-9, 1)}); bfloat16 matmul "
             f"{_fmt(speed['matmul_bfloat16'], 1e-9, 1)} GFLOP/s. Per CPU-second (process CPU time, all "
             f"threads): float32 {_fmt(speed['matmul_float32'].get('per_cpu_second'), 1e-9, 1)}, bfloat16 "
             f"{_fmt(speed['matmul_bfloat16'].get('per_cpu_second'), 1e-9, 1)} GFLOP per CPU-second.", "",
             "CPU time is recorded beside wall time because the machine ran at a load average far above its "
             "2 CPUs during this run: wall-time ratios then measure the other processes as much as the loops. "
             "CPU seconds per evaluation count the work a loop does, whatever else runs; the targets are "
             "judged on CPU-time ratios (the wall-time ratios are shown next to them).", ""]
    lines += ["| Size | Loop | wall s / evaluation | tf_nst_lbfgs ÷ loop (wall) | CPU s / evaluation | "
              "tf_nst_lbfgs ÷ loop (CPU) | GFLOP / evaluation | of fp32 matmul (wall) | of fp32 matmul (per CPU-s) |",
              "|---|---|---|---|---|---|---|---|---|"]
    peak = _matmul_wall_peak(speed)
    cpu_peak = speed["matmul_float32"].get("per_cpu_second", {}).get("median")
    for entry in speed["sizes"]:
        for name, loop in entry["loops"].items():
            seconds = loop["seconds_per_evaluation"]
            rate = loop["flops_per_evaluation"] / seconds["median"]
            cpu = loop.get("cpu_seconds_per_evaluation")
            cpu_rate = loop["flops_per_evaluation"] / cpu["median"] if cpu else None
            lines.append(f"| {entry['size']} | {name} | {_fmt(seconds)} | {_fmt(loop['project_over_this'])} | "
                         f"{_fmt(cpu)} | {_fmt(loop.get('project_over_this_cpu'))} | "
                         f"{loop['flops_per_evaluation'] / 1e9:.1f} | {100 * rate / peak:.0f} % | "
                         + (f"{100 * cpu_rate / cpu_peak:.0f} % |" if cpu_rate and cpu_peak else "n/a |"))
    lines += ["", "FLOPs are counted from the layer shapes (`benchmarks/timing.py: evaluation_flops`): each "
              "convolution's forward pass 2·H·W·Cin·Cout·9 per image, plus its backward pass to the input (the "
              "same count; filter gradients are not needed, and the per-CPU-second rates below 100 % confirm they are "
              "not computed), plus Gram matrices forward and backward; ReLU, pooling, losses and optimizer "
              "arithmetic are neglected. The keras.io loop pushes three images through the network forward and "
              "backward (its slices come after the convolutions). The wall-time column divides by the best "
              "wall-time matmul rate of the run; wall rates swing with the load, the per-CPU-second column does "
              "not. bf16 rows are divided by the float32 rate too (above 100 % = faster than float32 can be); "
              "against the bf16 matmul rate per CPU-second they reach "
              + ", ".join(f"{100 * entry['loops']['tf_nst_lbfgs_bfloat16']['flops_per_evaluation'] / entry['loops']['tf_nst_lbfgs_bfloat16']['cpu_seconds_per_evaluation']['median'] / speed['matmul_bfloat16']['per_cpu_second']['median']:.0f} % at {entry['size']} px"
                          for entry in speed["sizes"] if "tf_nst_lbfgs_bfloat16" in entry["loops"]
                          and "cpu_seconds_per_evaluation" in entry["loops"]["tf_nst_lbfgs_bfloat16"]
                          and "per_cpu_second" in speed["matmul_bfloat16"]) + ".", ""]
    return lines


def _quality(section):
    if not section:
        return []
    lines = ["## Figures 3 and 4b: time to quality (vgg16-hed, real features)", "",
             "Reference: a single-resolution L-BFGS `stylize` of 150 evaluations; its final loss L sets the bar "
             "1.05·L. Candidates are whole `stylize` calls (targets, upsampling and coarse scales included) "
             "after a warm-up call that traces the functions; losses are the normalized full-size loss of the "
             "finest scale, so they compare directly. Ratio = candidate wall time / reference wall time. "
             "Work = evaluations weighted by pixels relative to the full size (a load-independent cost). "
             "At these sizes the default `stylize` is single-resolution (coarse-to-fine did not pay off in "
             "loss, see the closing note; it is the default above 512 px for another reason), so its time "
             "to the bar is the reference's own. The runs are minutes apart and the "
             "load changed meanwhile (see the load averages), so wall ratios here are indicative; the "
             "evaluation counts and the work column are not affected. "
             f"{_load(section)}.", "",
             "| Size | Run | Sizes × evaluations | Seconds | Ratio | Final loss (× L) | Bar reached at (÷ reference time) | Work to the bar (÷ 150) | Loss at 1/3 of the reference time (× L) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for run in section["result"]:
        ref = run["reference"]
        lines.append(f"| {run['size']} | single-resolution reference | {ref['sizes']} × {ref['scale_steps']} | "
                     f"{ref['seconds']:.1f} | 1 | {ref['best_loss']:.4g} (1.000) | "
                     f"{_seconds(ref.get('time_to_bar'), ref['seconds'])} (evaluation {ref.get('steps_to_bar')}) | "
                     f"{_work(ref, run)} | {_third(ref, ref)} |")
        for candidate in run["candidates"]:
            label = "default `stylize`" if candidate.get("default") else "candidate"
            lines.append(f"| {run['size']} | {label} | {candidate['sizes']} × {candidate['scale_steps']} | "
                         f"{candidate['seconds']:.1f} | {candidate['ratio_whole_call']:.3f} | "
                         f"{candidate['best_loss']:.4g} ({candidate['loss_ratio']:.3f}) | "
                         f"{_seconds(candidate.get('time_to_bar'), ref['seconds'])} | {_work(candidate, run)} | "
                         f"{_third(candidate, ref)} |")
    lines.append("")
    lines += [f"Note: {run['note']}" for run in section["result"] if run.get("note")]
    lines.append("")
    precision = [run for run in section["result"] if run.get("precision")]
    if precision:
        lines += ["bf16 (`precision=\"bfloat16\"`, same 150-evaluation single-resolution run; both final images "
                  "re-scored with float32 features, and its time to the bar judged on the float32 loss of its best "
                  "image after every chunk of 5 evaluations). The wall-time speed-up here is only indicative: the two "
                  "runs ran minutes apart; figure 4a's interleaved CPU-time ratio is the speed figure.", "",
                  "| Size | float32 s | bfloat16 s | Wall speed-up | float32 loss | bfloat16 loss (float32-rescored) "
                  "| Change | Bar reached at (÷ float32 reference time) |",
                  "|---|---|---|---|---|---|---|---|"]
        for run in precision:
            p = run["precision"]
            bar = (f"{_seconds(p['time_to_bar'], p['float32_seconds'])} (evaluation {p['steps_to_bar']})"
                   if p.get("time_to_bar") is not None else ("not reached" if "time_to_bar" in p else "not measured"))
            lines.append(f"| {run['size']} | {p['float32_seconds']:.1f} | {p['bfloat16_seconds']:.1f} | "
                         f"{p['speedup']:.2f}× | {p['float32_rescored']:.4g} | {p['bfloat16_rescored']:.4g} | "
                         f"{100 * p['loss_change']:+.1f} % | {bar} |")
        lines.append("")
    return lines


def _seconds(value, reference_seconds):
    return "not reached" if value is None else f"{value:.1f} s ({value / reference_seconds:.2f})"


def _work(candidate, run):
    if candidate.get("steps_to_bar") is None:
        total = work_to_step(candidate, sum(candidate["scale_steps"]), run["size"])
        return f"not reached ({total:.0f} in all, {total / run['reference_steps']:.2f})"
    work = work_to_step(candidate, candidate["steps_to_bar"], run["size"])
    return f"{work:.0f} ({work / run['reference_steps']:.2f})"


def _third(run, ref):
    early = [loss for seconds, _, loss in run["trace"] if seconds <= ref["seconds"] / 3]
    return f"{early[-1]:.4g} ({early[-1] / ref['best_loss']:.2f})" if early else "finest scale not started"


def _memory(section):
    if not section:
        return []
    lines = ["## Figure 5: peak memory", "",
             "Peak RSS (`VmHWM`) of a fresh process that builds the Stylizer (VGG19, random weights) and runs "
             f"a whole single-resolution `stylize` call. {_load(section)}.", "",
             "| Size | Optimizer | Peak RSS | RSS after building the model | Evaluations |", "|---|---|---|---|---|"]
    for entry in section["result"]:
        if "peak_rss_bytes" not in entry:
            lines.append(f"| {entry['size']} | {entry['optimizer']} | failed: {entry.get('error')} | | |")
            continue
        lines.append(f"| {entry['size']} | {entry['optimizer']} | {entry['peak_rss_bytes'] / GB:.2f} GB | "
                     f"{entry['rss_after_build_bytes'] / GB:.2f} GB | {entry['steps']} |")
    return lines + [""]


def _served(section):
    lines = ["## Figure 6: served signature vs library call", ""]
    if not section or section["result"].get("status") != "measured":
        reason = section["result"].get("reason") if section else "not run"
        return lines + [f"Pending: {reason}.", ""]
    served = section["result"]
    return lines + [
        f"`serving_default` of an export loaded in-process (`tf_nst.serving.client.load_saved_model`) vs "
        f"`Stylizer.stylize`, {served['size']} px, {served['steps']} L-BFGS evaluations, {served['backbone']} "
        f"(random weights), interleaved rounds. {_load(section)}.", "",
        f"- library call: {_fmt(served['library_seconds'])} s; served: {_fmt(served['served_seconds'])} s; "
        f"served ÷ library: {_fmt(served['served_over_library'])}",
        f"- export written in {served['export_seconds']:.1f} s; final loss library {served['library_best_loss']:.4g}, "
        f"served {served['served_best_loss']:.4g}", ""]


def main():
    path = os.path.join(HERE, "results.json")
    with open(path) as stream:
        results = json.load(stream)
    with open(os.path.join(HERE, "RESULTS.md"), "w") as stream:
        stream.write(render(results))
    print(f"Wrote {os.path.join(HERE, 'RESULTS.md')}")


if __name__ == "__main__":
    main()
