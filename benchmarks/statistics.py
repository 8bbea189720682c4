"""Round 3: the Gram matrix against mean + covariance (Wasserstein-2) as the style statistic.

For each statistic and three style weights, one single-resolution L-BFGS run (vgg16-hed,
float32), then distances that *neither* loss optimizes:

- content: the normalized content error at block4_conv2 (what the content term measures, the
  same for both statistics);
- sliced Wasserstein distance (SWD) of the features per style layer to the style's: the
  features projected on 64 random unit directions, sorted, quantiles compared (root mean
  square), divided by the style's projected RMS;
- RGB histogram Hellinger distance (8 bins per channel) to the style image.

    python -m benchmarks.statistics            # 192 px, 80 evaluations per run (~5 min here)
    python -m benchmarks.statistics --size 128 --steps 20   # a smoke run
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
from benchmarks.machine import cpu_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ASSETS = os.path.join(ROOT, "tf_nst", "assets")
DEFAULT_CONTENT = os.path.join(ASSETS, "astronaut.png")
STYLE_LAYERS = [f"block{i}_conv1" for i in range(1, 6)]
WEIGHTS = (3.0, 10.0, 30.0)




def content_image(size, path=None):
    """The content photo at `size` (default: the bundled astronaut; the figures in RESULTS.md used
    jcjohnson/neural-style's examples/inputs/tubingen.jpg, not bundled: pass it with --content)."""
    from tf_nst.engine import pyramid
    from tf_nst.io.images import load_image

    path = path or DEFAULT_CONTENT
    return pyramid.fit(load_image(path).rgb, size), os.path.basename(path)


def style_image(name, size):
    from tf_nst.engine import pyramid
    from tf_nst.io.images import load_image

    return pyramid.fit(load_image(os.path.join(ASSETS, name)).rgb, size)


def features(extractor, rgb):
    """`{layer: (N, C) float64}` features of a uint8 image."""
    import tensorflow as tf

    output = extractor(tf.constant(np.asarray(rgb, np.float32)[None]))
    return {name: value.numpy().reshape(-1, value.shape[-1]).astype(np.float64) for name, value in output.items()}


def sliced_wasserstein(a, b, directions=64, quantiles=256, seed=0):
    """SWD between two `(N, C)` feature sets, relative to `b`'s projected RMS."""
    rng = np.random.default_rng(seed)
    projections = rng.normal(size=(a.shape[1], directions))
    projections /= np.linalg.norm(projections, axis=0, keepdims=True)
    levels = (np.arange(quantiles) + 0.5) / quantiles
    qa = np.quantile(a @ projections, levels, axis=0)
    qb = np.quantile(b @ projections, levels, axis=0)
    return float(np.sqrt(np.mean((qa - qb) ** 2)) / np.sqrt(np.mean((b @ projections) ** 2)))


def hellinger_rgb(a, b, bins=8):
    """Hellinger distance between the 3-D RGB histograms of two uint8 images."""
    def histogram(rgb):
        counts, _ = np.histogramdd(rgb.reshape(-1, 3), bins=bins, range=[(0, 256)] * 3)
        return counts.ravel() / counts.sum()

    return float(np.sqrt(max(0.0, 1.0 - np.sum(np.sqrt(histogram(a) * histogram(b))))))


def content_distance(extractor, image, content):
    a, b = features(extractor, image)["block4_conv2"], features(extractor, content)["block4_conv2"]
    return float(np.sum((a - b) ** 2) / np.sum(b ** 2))


def measure(extractor, image, content, style):
    """`{"content", "swd": {layer: d}, "hellinger"}` of a result."""
    mine, theirs = features(extractor, image), features(extractor, style)
    return {"content": content_distance(extractor, image, content),
            "swd": {name: sliced_wasserstein(mine[name], theirs[name]) for name in STYLE_LAYERS},
            "hellinger": hellinger_rgb(image, style)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--content", default=None, help="content photo (default: the bundled astronaut)")
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--style", default="starry_night.jpg")
    parser.add_argument("--save", default=None, help="folder for the result PNGs")
    args = parser.parse_args()

    from tf_nst import Stylizer
    from tf_nst.engine.backbones import FeatureExtractor
    from tf_nst.io.images import save_png

    content, content_name = content_image(args.size, args.content)
    style = style_image(args.style, args.size)
    extractor = FeatureExtractor(["block4_conv2"] + STYLE_LAYERS, backbone="vgg16-hed")
    rows = [("content (start)", "-", measure(extractor, content, content, style), 0.0)]
    started = time.time()
    for statistic in ("gram", "mean-cov"):
        stylizer = Stylizer(backbone="vgg16-hed", size=args.size, num_steps=args.steps, scales=1,
                            style_statistic=statistic, precision="float32")
        for weight in WEIGHTS:
            begin = time.perf_counter()
            stylizer.settings = stylizer.settings.replace(style_weight=weight)  # same traced pieces
            result = stylizer.stylize(content, style)
            seconds = time.perf_counter() - begin
            rows.append((statistic, f"{weight:g}", measure(extractor, result.image, content, style),
                         seconds / max(result.steps, 1)))
            if args.save:
                save_png(os.path.join(args.save, f"statistic_{statistic}_{weight:g}.png"), result.image)
    print(f"vgg16-hed, float32, {content_name} x {args.style}, {content.shape[1]}x{content.shape[0]}, "
          f"L-BFGS {args.steps} evaluations, single resolution; {cpu_model()}, {time.time() - started:.0f} s")
    print()
    header = "| statistic | style weight | content | " + " | ".join(f"SWD {name[:6]}" for name in STYLE_LAYERS)
    print(header + " | SWD mean | RGB Hellinger | s/eval |")
    print("|" + "---|" * (len(STYLE_LAYERS) + 7))
    for statistic, weight, figures, per_step in rows:
        swd = [figures["swd"][name] for name in STYLE_LAYERS]
        print(f"| {statistic} | {weight} | {figures['content']:.3f} | " + " | ".join(f"{d:.3f}" for d in swd)
              + f" | {np.mean(swd):.3f} | {figures['hellinger']:.3f} | {per_step:.2f} |")


if __name__ == "__main__":
    main()
