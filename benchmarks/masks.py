"""Round 3: region masks. Do two styles stay in their halves, and how far does one style bleed?

(1) Two styles on the two halves of a photo (`Stylizer.stylize(..., masks=[left, right])`):
    each half's sliced Wasserstein distance (SWD, block1-5 mean, `benchmarks.statistics`) to
    either style, before and after; a half should end closer to its own style.
(2) One style on the left half only, Gatys' erosion of the masks off and on
    (`StyleObjective(erode_masks=...)`): the mean absolute grey-level change against the
    content in bands by distance from the boundary (negative: inside the styled half).

    python -m benchmarks.masks                 # 192 px, 80 evaluations per run (~5 min here)
    python -m benchmarks.masks --size 128 --steps 20
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

from benchmarks.machine import cpu_model
from benchmarks.statistics import (
    STYLE_LAYERS,
    content_image,
    features,
    sliced_wasserstein,
    style_image,
)

BANDS = ((-64, -32), (-32, -16), (-16, -8), (-8, 0), (0, 8), (8, 16), (16, 32), (32, 64), (64, 10**6))


def halves(height, width):
    """`(left, right)` float masks of an image's two halves."""
    left = np.zeros((height, width), np.float32)
    left[:, :width // 2] = 1.0
    return left, 1.0 - left


def swd_mean(extractor, image, style):
    mine, theirs = features(extractor, image), features(extractor, style)
    return float(np.mean([sliced_wasserstein(mine[name], theirs[name]) for name in STYLE_LAYERS]))


def masked_run(stylizer, content, style, mask, steps, erode):
    """One single-resolution run of `stylizer`'s settings with one masked style, erosion `erode`."""
    import tensorflow as tf

    from tf_nst.engine.masks import fit_masks
    from tf_nst.engine.objective import StyleObjective
    from tf_nst.engine.pieces import build_pieces, to_batch, to_uint8

    settings = stylizer.settings
    objective = StyleObjective(stylizer.extractor, settings.content_layers, settings.style_layers,
                               style_statistic=settings.style_statistic, erode_masks=erode)
    pieces = build_pieces(objective, stylizer.build_optimizer(settings))
    masks = fit_masks([mask], *content.shape[:2])
    targets = objective.compute_targets(to_batch(content), [to_batch(style)], tf.ones([1]), masks=masks)
    weights = stylizer.loss_weights()
    state = pieces.start(to_batch(content), targets, *weights)
    state, _ = pieces.run(state, targets, *weights, tf.constant(steps))
    return to_uint8(state["best_x"]).numpy()[0]


def band_changes(image, content):
    """Mean |image - content| (grey levels, over channels) per band of distance from the middle column."""
    change = np.abs(image.astype(np.float64) - content.astype(np.float64)).mean(-1)
    distance = np.arange(change.shape[1]) - change.shape[1] // 2  # < 0: left (styled) half
    return [float(change[:, (distance >= low) & (distance < high)].mean())
            if np.any((distance >= low) & (distance < high)) else float("nan") for low, high in BANDS]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--content", default=None, help="content photo (default: the bundled astronaut)")
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--statistic", default="gram")
    parser.add_argument("--only-bleeding", action="store_true", help="skip (1)")
    parser.add_argument("--only-two-styles", action="store_true", help="skip (2)")
    args = parser.parse_args()

    from tf_nst import Stylizer
    from tf_nst.engine.backbones import FeatureExtractor

    started = time.time()
    content, content_name = content_image(args.size, args.content)
    names = ("starry_night.jpg", "the_scream.jpg")
    styles = [style_image(name, args.size) for name in names]
    left, _ = halves(*content.shape[:2])
    stylizer = Stylizer(backbone="vgg16-hed", size=args.size, num_steps=args.steps, scales=1,
                        style_statistic=args.statistic, precision="float32")
    extractor = FeatureExtractor(STYLE_LAYERS, backbone="vgg16-hed")
    margin = 16
    print(f"vgg16-hed, float32, {content_name} {content.shape[1]}x{content.shape[0]}, style statistic {args.statistic}, L-BFGS "
          f"{args.steps} evaluations, single resolution; {cpu_model()}")
    print()
    if not args.only_bleeding:
        two_styles_table(stylizer, extractor, content, styles, margin)
    if not args.only_two_styles:
        bleeding_table(stylizer, content, styles[0], left, args.steps)
    print(f"total {time.time() - started:.0f} s")


def two_styles_table(stylizer, extractor, content, styles, margin):
    """Table (1): each half's SWD to either style, before and after a two-style masked run."""
    height, width = content.shape[:2]
    left, right = halves(height, width)
    two = stylizer.stylize(content, styles, masks=[left, right]).image
    parts = {"left (starry night)": np.s_[:, :width // 2 - margin], "right (the scream)": np.s_[:, width // 2 + margin:]}
    print(f"(1) Two styles split down the middle: SWD (block1-5 mean) of each half ({margin} px from the "
          "boundary left out) to each style")
    print()
    print("| half | image | SWD to starry night | SWD to the scream | own style closer |")
    print("|---|---|---|---|---|")
    for own, (label, part) in enumerate(parts.items()):
        for kind, image in (("content", content), ("result", two)):
            distances = [swd_mean(extractor, image[part], style) for style in styles]
            print(f"| {label} | {kind} | {distances[0]:.3f} | {distances[1]:.3f} | "
                  f"{'yes' if distances[own] < distances[1 - own] else 'no'} |")
    print()


def bleeding_table(stylizer, content, style, left, steps):
    """Table (2): grey-level change by distance from the boundary, erosion off and on.

    With erosion, layers where it would leave less than a quarter of the region keep the plain
    mask (`masks.MIN_ERODED_AREA`); at 192 px none does (block5_conv1's radius is 66 px: 30 of the
    half's 96 columns remain).
    """
    print("(2) Starry night on the left half only: mean |result - content| (grey levels) by distance "
          "from the boundary (px; negative = styled side)")
    print()
    print("| erosion | " + " | ".join(f"[{low}, {high if high < 10**6 else 'edge'})" for low, high in BANDS) + " |")
    print("|---|" + "---|" * len(BANDS))
    for erode in (False, True):
        image = masked_run(stylizer, content, style, left, steps, erode)
        print(f"| {'on' if erode else 'off'} | " + " | ".join(f"{value:.1f}" for value in band_changes(image, content))
              + " |")
    print()


if __name__ == "__main__":
    main()
