"""Round 3: region masks. Do two styles stay in their halves, and how far does one style bleed?

(1) Two styles on the two halves of a photo (`Stylizer.stylize(..., region_masks=[left, right])`):
    each half's sliced Wasserstein distance (SWD, block1-5 mean, `benchmarks.statistics`) to
    either style, before and after; a half should end closer to its own style.
(2) One style on the left half only, Gatys' erosion of the masks off and on
    (`StyleObjective(erode_masks=...)`): the mean absolute grey-level change against the
    content in bands by distance from the boundary (negative: inside the styled half).
(3) Where two styles meet: Starry Night on the left half, The Scream on the right; the mean
    absolute change from the photo in strips beside the meeting line, against the same strips
    when one style covers the whole image (the amount of repainting; a narrow strip's Gram
    distance follows its content and misleads). A seam of neither style shows as a ratio < 1.

    python -m benchmarks.masks                 # 192 px, 80 evaluations per run (~5 min here)
    python -m benchmarks.masks --size 128 --steps 20
    python -m benchmarks.masks --content tubingen.jpg --size 256 --only-seam
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


def masked_run(stylizer, content, styles, masks, steps, erode=True):
    """One single-resolution run of `stylizer`'s settings: `styles` in `masks` (`None`: everywhere)."""
    import tensorflow as tf

    from tf_nst.engine.masks import fit_masks
    from tf_nst.engine.objective import StyleObjective
    from tf_nst.engine.pieces import build_pieces, to_batch, to_uint8

    settings = stylizer.settings
    objective = StyleObjective(stylizer.extractor, settings.content_layers, settings.style_layers,
                               style_statistic=settings.style_statistic, erode_masks=erode)
    pieces = build_pieces(objective, stylizer.build_optimizer(settings))
    if masks is not None:
        masks = fit_masks(masks, *content.shape[:2])
    blend = tf.fill([len(styles)], 1.0 / len(styles))
    targets = objective.compute_targets(to_batch(content), [to_batch(style) for style in styles], blend,
                                        region_masks=masks)
    weights = stylizer.loss_weights()
    state = pieces.start(to_batch(content), targets, *weights)
    state, _ = pieces.run(state, targets, *weights, tf.constant(steps))
    return to_uint8(state["best_x"]).numpy()[0]


def band_changes(image, content, bands=BANDS, center=None):
    """Mean |image - content| (grey levels, over channels) per band of distance from column `center`
    (default: the middle one)."""
    change = np.abs(image.astype(np.float64) - content.astype(np.float64)).mean(-1)
    center = change.shape[1] // 2 if center is None else center
    distance = np.arange(change.shape[1]) - center  # < 0: left (styled) side
    return [float(change[:, (distance >= low) & (distance < high)].mean())
            if np.any((distance >= low) & (distance < high)) else float("nan") for low, high in bands]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--content", default=None, help="content photo (default: the bundled astronaut)")
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--statistic", default="gram")
    parser.add_argument("--only-bleeding", action="store_true", help="skip (1)")
    parser.add_argument("--only-two-styles", action="store_true", help="skip (2)")
    parser.add_argument("--only-seam", action="store_true", help="run (3) and the erosion-on row of (2) only")
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
    if args.only_seam:
        seam_table(stylizer, content, styles, args.steps)
        bleeding_table(stylizer, content, styles[0], left, args.steps, erosions=(True,))
        photo_edge_table(stylizer, content, styles, args.steps)
    else:
        if not args.only_bleeding:
            two_styles_table(stylizer, extractor, content, styles, margin)
        if not args.only_two_styles:
            bleeding_table(stylizer, content, styles[0], left, args.steps)
    print(f"total {time.time() - started:.0f} s")


def two_styles_table(stylizer, extractor, content, styles, margin):
    """Table (1): each half's SWD to either style, before and after a two-style masked run."""
    height, width = content.shape[:2]
    left, right = halves(height, width)
    two = stylizer.stylize(content, styles, region_masks=[left, right]).image
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


def bleeding_table(stylizer, content, style, left, steps, erosions=(False, True)):
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
    for erode in erosions:
        image = masked_run(stylizer, content, [style], [left], steps, erode)
        print(f"| {'on' if erode else 'off'} | " + " | ".join(f"{value:.1f}" for value in band_changes(image, content))
              + " |")
    print()


SEAM_STRIPS = ((-32, -16), (-16, 0), (0, 16), (16, 32))


def seam_table(stylizer, content, styles, steps):
    """Table (3): repainting beside the meeting line of two styles against one style everywhere."""
    height, width = content.shape[:2]
    two = band_changes(masked_run(stylizer, content, styles, list(halves(height, width)), steps), content,
                       SEAM_STRIPS)
    alone = [band_changes(masked_run(stylizer, content, [style], None, steps), content, SEAM_STRIPS)
             for style in styles]
    print("(3) Starry night left, the scream right: mean |result - content| (grey levels) in strips by "
          "distance from the meeting line (px; negative = starry night's side), against each style alone "
          "on the whole image")
    print()
    print("| run | " + " | ".join(f"[{low}, {high})" for low, high in SEAM_STRIPS) + " |")
    print("|---|" + "---|" * len(SEAM_STRIPS))
    # Left strips compare with starry night everywhere, right strips with the scream everywhere.
    own = [alone[0][index] if high <= 0 else alone[1][index] for index, (_, high) in enumerate(SEAM_STRIPS)]
    for label, row in (("two styles, masked", two), ("each side's style everywhere", own),
                       ("ratio", [mine / theirs for mine, theirs in zip(two, own)])):
        print(f"| {label} | " + " | ".join(f"{value:.2f}" for value in row) + " |")
    inner = [index for index, (low, high) in enumerate(SEAM_STRIPS) if min(abs(low), abs(high)) == 0]
    print(f"\nratio in the strips touching the line ([-16, 16)): "
          f"{sum(two[i] for i in inner) / sum(own[i] for i in inner):.2f}")
    print()


def photo_edge_table(stylizer, content, styles, steps):
    """Table (4): two styles and the photo: starry night on the left half, the scream on the next
    quarter, the photo kept on the last quarter; the change by distance from the photo's edge."""
    height, width = content.shape[:2]
    edge = 3 * width // 4
    left, right = halves(height, width)
    right[:, edge:] = 0.0
    image = masked_run(stylizer, content, styles, [left, right], steps)
    bands = BANDS[:-1]
    print("(4) Starry night left half, the scream on the third quarter, the photo on the last: mean "
          "|result - content| by distance from the photo's edge (px; negative = the scream's side)")
    print()
    print("| run | " + " | ".join(f"[{low}, {high})" for low, high in bands) + " |")
    print("|---|" + "---|" * len(bands))
    print("| two styles and the photo | " + " | ".join(
        f"{value:.1f}" for value in band_changes(image, content, bands, center=edge)) + " |")
    print()


if __name__ == "__main__":
    main()
