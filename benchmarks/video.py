"""Video benchmark: temporal consistency and style at equal evaluations per frame.

    python -m benchmarks.video                      # 256 px, 8 frames (about 15 min on 2 cores)
    python -m benchmarks.video --size 128 --num-frames 4 --num-steps 40 --frame-steps 15   # smoke run

On a generated clip (a crop window panning and zooming across the bundled astronaut photo,
plus a sliding occluder: tests/video_clips.py, so the true flow is known), stylized with
vgg16-hed and Starry Night three ways, each frame getting the same evaluations (the first
`--num-steps`, the later ones `--frame-steps`):

- independent: every frame starts from its content (same seed): the flicker baseline;
- warped start: later frames start from the previous result warped by the flow;
- warped start + temporal loss (`TemporalLoss(weight=--temporal-weight)`).

Printed: the warping error (Lai et al. 2018, `tf_nst.engine.flow.warping_error`) with the flow
measured on the content and with the clip's true flow, the mean per-frame style loss of the
later frames (each final frame re-scored by the same objective without the temporal term),
seconds for the first and the later frames, and the CPU. The issue's target: the full method's
error <= 1/3 of the independent frames', its style loss within 10 % of theirs.
"""

import argparse
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from tests.video_clips import make_clip  # noqa: E402
from tf_nst import Stylizer  # noqa: E402
from tf_nst.engine.flow import TemporalLoss, warping_error  # noqa: E402
from tf_nst.io.images import resize  # noqa: E402
from tf_nst.runs.video import open_video, stylize_video  # noqa: E402
from benchmarks.machine import cpu_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STYLE_PATH = os.path.join(ROOT, "tf_nst", "assets", "starry_night.jpg")
MODES = ("independent", "warped start", "warped start + temporal loss")




def style_losses(scorer, content_frames, stylized_frames, style):
    """Style loss of each stylized frame under `scorer`'s objective (its loss at the start image)."""
    losses = []
    for content, image in zip(content_frames, stylized_frames):
        result = scorer.stylize(resize(content, (image.shape[1], image.shape[0])), style, init=image, num_steps=1)
        losses.append(float(result.history[0][list(result.loss_names).index("style")]))
    return losses


def run_mode(mode, clip, size, num_steps, frame_steps, temporal_weight, work, log=print):
    terms = [TemporalLoss(weight=temporal_weight)] if mode == MODES[2] else []
    stylizer = Stylizer(backbone="vgg16-hed", size=size, num_steps=num_steps, seed=0, extra_loss_terms=terms)
    output = os.path.join(work, mode.replace(" ", "_").replace("+", "and"))
    result = stylize_video(stylizer, clip.frames, STYLE_PATH, output, frame_steps=frame_steps,
                           warp_start=mode != MODES[0],
                           callback=lambda progress: log(f"  {mode}: frame {progress.frame}/{progress.total_frames} "
                                                         f"{progress.seconds:.1f} s"))
    frames = list(open_video(result.output))
    seconds = [result.frame_seconds[index] for index in sorted(result.frame_seconds)]
    return frames, {"error_content_flow": warping_error(frames, content_frames=clip.frames),
                    "error_true_flow": warping_error(frames, flows=clip.flows, masks=clip.masks),
                    "seconds_first": seconds[0],
                    "seconds_later": float(np.mean(seconds[1:])) if len(seconds) > 1 else None}


def frame_strip(rows, path, frame_indices):
    """Rows of frames (label, frames) side by side, with labels, as one PNG."""
    height, width = rows[0][1][0].shape[:2]
    label_width = 190
    strip = Image.new("RGB", (label_width + width * len(frame_indices), height * len(rows)), "white")
    draw = ImageDraw.Draw(strip)
    for row, (label, frames) in enumerate(rows):
        draw.text((6, row * height + height // 2 - 6), label, fill="black")
        for column, index in enumerate(frame_indices):
            strip.paste(Image.fromarray(frames[index]), (label_width + column * width, row * height))
    strip.save(path)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--num-frames", type=int, default=8)
    parser.add_argument("--num-steps", type=int, default=100, help="evaluations of the first frame")
    parser.add_argument("--frame-steps", type=int, default=30, help="evaluations of each later frame")
    parser.add_argument("--temporal-weight", type=float, default=TemporalLoss().weight)
    parser.add_argument("--strip", default=os.path.join(tempfile.gettempdir(), "tf_nst_video_strip.png"),
                        help="where to write the side-by-side frame strip")
    args = parser.parse_args(argv)
    clip = make_clip(size=args.size, num_frames=args.num_frames)
    print(f"CPU: {cpu_model()} ({len(os.sched_getaffinity(0))} usable)")
    print(f"clip: {args.num_frames} frames of {args.size}x{args.size} px (tests/video_clips.py), vgg16-hed, "
          f"Starry Night; first frame {args.num_steps} evaluations, later frames {args.frame_steps}; "
          f"temporal weight {args.temporal_weight:g}", flush=True)
    scorer = Stylizer(backbone="vgg16-hed", size=args.size, num_steps=1, seed=0)
    figures, stylized = {}, {}
    with tempfile.TemporaryDirectory() as work:
        for mode in MODES:
            frames, figures[mode] = run_mode(mode, clip, args.size, args.num_steps, args.frame_steps,
                                             args.temporal_weight, work)
            styles = style_losses(scorer, clip.frames, frames, STYLE_PATH)
            figures[mode]["style_later"] = float(np.mean(styles[1:])) if len(styles) > 1 else styles[0]
            stylized[mode] = frames
    base = figures[MODES[0]]
    print()
    print(f"| method | warping error, content flow | true flow | vs independent | style loss (later frames) "
          f"| vs independent | s first frame | s later frame |")
    print("|---|---|---|---|---|---|---|---|")
    for mode in MODES:
        row = figures[mode]
        later = "-" if row["seconds_later"] is None else f"{row['seconds_later']:.1f}"
        print(f"| {mode} | {row['error_content_flow']:.5f} | {row['error_true_flow']:.5f} "
              f"| {row['error_content_flow'] / base['error_content_flow']:.3f} | {row['style_later']:.4f} "
              f"| {row['style_later'] / base['style_later'] - 1:+.1%} | {row['seconds_first']:.1f} | {later} |")
    full = figures[MODES[2]]
    met = (full["error_content_flow"] <= base["error_content_flow"] / 3
           and full["style_later"] <= 1.1 * base["style_later"])
    print(f"\ntarget (error <= 1/3 of independent, style loss within 10 %): {'met' if met else 'not met'}")
    shown = list(range(1, min(args.num_frames, 5)))
    path = frame_strip([("content", [resize(frame, (args.size, args.size)) for frame in clip.frames])]
                       + [(mode, stylized[mode]) for mode in MODES], args.strip, shown)
    print(f"frame strip (frames {', '.join(str(index + 1) for index in shown)}): {path}")
    return figures


if __name__ == "__main__":
    main()
