"""Figure 6: the exported serving signature against the library call at the same settings.

The export (`tf_nst.export.export_model`) is loaded in-process with
`tf_nst.serving.client.load_saved_model` and called on the same images, steps and
weights as `Stylizer.stylize` (single scale, one style); rounds interleave the
two calls. `benchmarks/serving_latency.py` measures the gRPC path through the
TF1 Session loader as well.
"""

import os
import tempfile
import time

import numpy as np

from benchmarks.timing import summary


def served_vs_library(size=256, steps=10, repeats=5, backbone="vgg19", log=print):
    try:
        from tf_nst.serving import export
        from tf_nst.serving import client as serving
    except ImportError as error:  # the export is developed separately
        return {"status": "pending", "reason": f"tf_nst.serving.export not importable: {error}"}
    from tf_nst.engine.stylizer import Stylizer

    weights = None if backbone == "vgg19" else "default"
    stylizer = Stylizer(backbone=backbone, weights=weights, size=size, scales=1, num_steps=steps)
    rng = np.random.default_rng(0)
    content = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    style = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        path = export.export_model(stylizer, os.path.join(directory, "tf_nst"))
        export_seconds = time.perf_counter() - started
        model = serving.load_saved_model(path)
        for _ in range(2):  # trace both paths
            stylizer.stylize(content, [style])
            model.stylize(content, style, steps=steps)
        library, served, ratios = [], [], []
        library_loss = served_loss = None
        for round_index in range(repeats):
            started = time.perf_counter()
            result = stylizer.stylize(content, [style])
            library.append(time.perf_counter() - started)
            started = time.perf_counter()
            reply = model.stylize(content, style, steps=steps)
            served.append(time.perf_counter() - started)
            ratios.append(served[-1] / library[-1])
            library_loss, served_loss = result.best_loss, reply.best_loss
            log(f"[served {size}px] round {round_index + 1}/{repeats}: library {library[-1]:.2f} s, "
                f"served {served[-1]:.2f} s")
    return {"status": "measured", "size": size, "steps": steps, "backbone": backbone,
            "export_seconds": export_seconds, "library_seconds": summary(library),
            "served_seconds": summary(served), "served_over_library": summary(ratios),
            "library_best_loss": library_loss, "served_best_loss": served_loss}
