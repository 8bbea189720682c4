"""Any painting in one pass: `stylize PHOTO PAINTING... --model arbitrary` and `train --arbitrary`.

    python cli.py stylize photo.jpg painting.jpg --model arbitrary -o out.png
    python cli.py stylize photo.jpg a.jpg b.jpg --model arbitrary --style-blend a:2,b:1 --strength 0.8
    python cli.py train --arbitrary --photos photos/ -o models/mine --steps 20000
"""

import os

import click

from tf_nst.cli.feedback import library_errors, stop_signals

# TrainSettings fields an arbitrary-style network's training reads (the rest are the losses of a
# network trained for given styles).
ARBITRARY_TRAIN_FIELDS = ("backbone", "precision", "size", "batch_size", "num_steps", "learning_rate",
                          "checkpoint_every", "seed")


def stylize_with_arbitrary(model, content, paintings, output, overwrite, region_masks, values, strength,
                           max_input_pixels, quiet):
    """`stylize PHOTO PAINTING... --model arbitrary`: the arbitrary-style network, any painting."""
    if not paintings:
        raise click.UsageError(f"expected at least one PAINTING after the photo with --model {model} (any painting "
                               "works). Received: none")
    if region_masks and len(region_masks) != len(paintings):
        raise click.BadParameter(f"expected one --region-mask per PAINTING ({len(paintings)}), received "
                                 f"{len(region_masks)}", param_hint="'--region-mask'")
    with library_errors():
        from tf_nst.runs.arbitrary import ArbitraryRun

        run = ArbitraryRun(model, precision=values.get("precision") or "auto")
        result, seconds = run.stylize_file(content, list(paintings), output, values["size"], strength=strength,
                                           blend=values.get("style_blend"), mask_paths=list(region_masks) or None,
                                           preserve_colors=values.get("preserve_colors", "none"),
                                           max_input_pixels=max_input_pixels)
    if not quiet:
        click.echo(f"Wrote {output} ({result.shape[1]}x{result.shape[0]}, network {os.path.basename(run.folder)}, "
                   f"{len(paintings)} painting(s), strength {strength:g}, {run.precision}, {seconds:.2f} s)",
                   err=True)


def train_arbitrary(photo_specs, output, settings, quiet):
    """`train --arbitrary --photos DIR -o FOLDER`: the decoders of an arbitrary-style network, resumable."""
    with stop_signals(), library_errors():
        from tf_nst.runs.arbitrary_training import train_inverter

        provenance = train_inverter(photo_specs, output, backbone=settings.backbone, size=settings.size,
                                    batch_size=settings.batch_size, num_steps=settings.num_steps,
                                    learning_rate=settings.learning_rate, checkpoint_every=settings.checkpoint_every,
                                    precision=settings.precision, seed=settings.seed, verbose=0 if quiet else 1)
    if not quiet:
        click.echo(f"Wrote {output} ({provenance['steps']} steps, {provenance['photos']['count']} photos, "
                   f"{provenance['seconds']:.0f} s of training)", err=True)
