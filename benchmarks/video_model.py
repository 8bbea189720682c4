"""Video through a trained network: flicker (warping error) with and without `--temporal-blend`.

    python -m benchmarks.video_model                     # 384 px, 16 frames, float32 and auto
    python -m benchmarks.video_model --size 192 --num-frames 6 --strengths 0,0.6   # smoke run

Two real-photo clips: the bundled astronaut under a panning, zooming crop window with an opaque
square sliding across it (tests/video_clips.py: the true flow and the occluder are known), and a
held-out photo (`--photo`) under a slow pan and zoom. Each runs through `--model` (default
starry_night) by `tf_nst.runs.video_model.stylize_video_with_model` at each strength (0: the
independent per-frame output). Printed per line: the warping error (mean absolute difference
between output t and output t-1 warped by the flow measured on the content, over the reliable
pixels, in grey levels: `tf_nst.engine.flow.warping_error(..., absolute=True)`), its ratio to the
independent frames', the mean distance to the independent output (how far the blend moves away
from the network's own frame), the same on the pixels the occluder uncovers (a ghost would
show there), the detail (mean absolute Laplacian) relative to the independent frames' (smearing
lowers it), seconds per frame (after the first), the CPU, precision and load average. `--strip`
writes three consecutive frames of each strength side by side.
"""

import argparse
import glob
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.machine import cpu_model  # noqa: E402
from tests.video_clips import make_clip  # noqa: E402
from tf_nst.engine.flow import warping_error  # noqa: E402
from tf_nst.io.images import load_image, resize  # noqa: E402
from tf_nst.runs.realtime import ModelRun  # noqa: E402
from tf_nst.runs.video import open_video  # noqa: E402
from tf_nst.runs.video_model import stylize_video_with_model  # noqa: E402

HELD_OUT = sorted(glob.glob("/work/photos/heldout/*.jpg"))


def pan_clip(path, size, num_frames, pan=(3.0, 1.0), zoom=0.985):
    """`num_frames` square frames of `size` px: a crop window panning and zooming over the photo at `path`."""
    photo = load_image(path).rgb
    height, width = photo.shape[:2]
    side = 0.6 * min(height, width)
    centre = np.array([0.35 * width, 0.5 * height])
    frames = []
    for index in range(num_frames):
        scale = size / side
        matrix = np.array([[scale, 0, size / 2 - scale * centre[0]], [0, scale, size / 2 - scale * centre[1]]])
        frames.append(cv2.warpAffine(photo, matrix, (size, size), flags=cv2.INTER_AREA))
        centre += np.array(pan) / scale
        side *= zoom
    return frames


def measure(run, frames, size, strength, work):
    """One clip at one strength: its output frames and figures."""
    output = os.path.join(work, f"{run.precision}-{strength:g}-{len(os.listdir(work))}")
    result = stylize_video_with_model(run, frames, output, size, temporal_blend=strength)
    out = list(open_video(result.output))
    seconds = [result.frame_seconds[index] for index in sorted(result.frame_seconds)]
    figures = {"error": warping_error(out, content_frames=frames, absolute=True),
               "seconds": float(np.mean(seconds[1:] if len(seconds) > 1 else seconds))}
    return out, figures


def deviation(frames, reference, masks=None):
    """Mean absolute difference (grey levels) to the reference frames, over `masks` when given."""
    values = []
    for index, (frame, base) in enumerate(zip(frames, reference)):
        difference = np.mean(np.abs(frame.astype(np.float32) - base.astype(np.float32)), axis=-1)
        mask = np.ones(difference.shape, np.float32) if masks is None else cv2.resize(
            masks[index].astype(np.float32), difference.shape[::-1], interpolation=cv2.INTER_NEAREST)
        values.append(float(np.sum(mask * difference) / max(float(mask.sum()), 1.0)))
    return float(np.mean(values))


def detail(frames):
    """Mean absolute Laplacian of the grey frames (grey levels): fine texture; smearing lowers it."""
    return float(np.mean([np.mean(np.abs(cv2.Laplacian(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), cv2.CV_32F)))
                          for frame in frames]))


def strip(rows, path, start):
    """Three consecutive frames (from `start`) of each row side by side, rows stacked, as one PNG."""
    image = np.concatenate([np.concatenate(frames[start:start + 3], axis=1) for frames in rows], axis=0)
    cv2.imwrite(path, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return path


def run_clip(name, frames, disoccluded, args, precision, work):
    """Every strength on one clip: prints a line each; `{strength: output frames}`."""
    run = ModelRun(args.model, precision=precision)
    outputs, lines = {}, []
    for strength in args.strengths:
        outputs[strength], row = measure(run, frames, args.size, strength, work)
        base = outputs[args.strengths[0]]
        row["ratio"] = row["error"] / lines[0][1]["error"] if lines else 1.0
        row["smear"] = deviation(outputs[strength], base)
        row["detail"] = detail(outputs[strength]) / detail(base)
        row["ghost"] = deviation(outputs[strength][1:], base[1:], disoccluded) if disoccluded is not None else None
        lines.append((strength, row))
        load = " ".join(f"{value:.1f}" for value in os.getloadavg())
        ghost = "" if row["ghost"] is None else f", on disoccluded pixels {row['ghost']:.1f}"
        print(f"video {name} {len(frames)}x{args.size}px {args.model} blend {strength:g}: warping error "
              f"{row['error']:.2f} grey levels (x{row['ratio']:.2f} of independent); from independent "
              f"{row['smear']:.1f}{ghost}; detail x{row['detail']:.2f}; {row['seconds']:.3f} s/frame "
              f"({cpu_model()}; {run.precision}; load {load})", flush=True)
    return outputs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="starry_night")
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--num-frames", type=int, default=16)
    parser.add_argument("--strengths", default="0,0.4,0.6,0.8")
    parser.add_argument("--precisions", default="float32,auto")
    parser.add_argument("--photo", default=next((path for path in HELD_OUT if "Garden" in path),
                                                HELD_OUT[0] if HELD_OUT else None))
    parser.add_argument("--strip", default=os.path.join(tempfile.gettempdir(), "tf_nst_video_model_strip.png"))
    args = parser.parse_args(argv)
    args.strengths = [float(value) for value in args.strengths.split(",")]
    clip = make_clip(size=args.size, num_frames=args.num_frames)
    disoccluded = [1.0 - mask for mask in clip.masks]  # what frame t shows that frame t-1 did not
    clips = [("astronaut+square", clip.frames, disoccluded)]
    if args.photo:
        clips.append((os.path.basename(args.photo), pan_clip(args.photo, args.size, args.num_frames), None))
    with tempfile.TemporaryDirectory() as work:
        for precision in args.precisions.split(","):
            for name, frames, disoccluded in clips:
                outputs = run_clip(name, frames, disoccluded, args, precision, work)
                if precision == args.precisions.split(",")[0]:
                    path = args.strip.replace(".png", f"-{name.split('.')[0]}.png")
                    shown = [[resize(frame, outputs[args.strengths[0]][0].shape[1::-1]) for frame in frames]]
                    print("strip:", strip(shown + [outputs[value] for value in args.strengths], path,
                                         min(5, args.num_frames - 3)))


if __name__ == "__main__":
    main()
