"""Export size and time, and per-request time of the served signature vs the library call.

    python benchmarks/serving_latency.py [--backbone vgg16-hed] [--size 128] [--steps 20] [--runs 5]

The served path is the Session loader (as TF Serving) behind an in-process gRPC
PredictionService (tests/model_server.py), called with `tf_nst.serving.client.request_grpc`;
the library path is `Stylizer.stylize` at the same settings (single scale).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

from model_server import start_server  # noqa: E402

from tf_nst.serving import export  # noqa: E402

from tf_nst.serving import client as serving  # noqa: E402
from tf_nst.io.images import load_image  # noqa: E402
from tf_nst.engine.stylizer import Stylizer  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--backbone", default="vgg16-hed")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    weights = None if args.backbone == "vgg19" else "default"
    stylizer = Stylizer(backbone=args.backbone, weights=weights, size=args.size, num_steps=args.steps)
    content = serving.prepare_image(load_image(os.path.join(ROOT, "tf_nst/assets/astronaut.png")).rgb, args.size)
    style = serving.prepare_image(load_image(os.path.join(ROOT, "tf_nst/assets/starry_night.jpg")).rgb, args.size)
    with tempfile.TemporaryDirectory() as directory:
        base = os.path.join(directory, "tf_nst")
        started = time.perf_counter()
        path = export.export_model(stylizer, base)
        export_seconds = time.perf_counter() - started
        size = sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(path) for name in names)
        server, _, address = start_server({"tf_nst": base})
        try:
            for _ in range(2):  # warm both paths
                stylizer.stylize(content, style)
                serving.request_grpc(address, content, style)
            library, served, served_bytes = [], [], []
            for _ in range(args.runs):  # interleaved so drift affects both alike
                started = time.perf_counter()
                stylizer.stylize(content, style)
                library.append(time.perf_counter() - started)
                served.append(serving.request_grpc(address, content, style).seconds)
                served_bytes.append(serving.request_grpc(address, content, style,
                                                         signature=export.STYLIZE_BYTES).seconds)
        finally:
            server.stop(0)
    lib, srv, srv_bytes = (statistics.median(values) for values in (library, served, served_bytes))
    print(f"backbone={args.backbone} size={content.shape[1]}x{content.shape[0]} steps={args.steps} runs={args.runs}")
    print(f"export: {size / 1e6:.0f} MB in {export_seconds:.1f} s")
    print(f"library call:              {lib:.3f} s (median)")
    print(f"served serving_default:    {srv:.3f} s (median) = {srv / lib:.3f}x")
    print(f"served stylize_bytes:      {srv_bytes:.3f} s (median) = {srv_bytes / lib:.3f}x")


if __name__ == "__main__":
    main()
