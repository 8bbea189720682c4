"""Drivers of whole runs over the engine, and the contract they share.

- `contract`: the stop request and the progress events every driver emits and every front end renders.
- `records`: a batch's pairs, per-pair outcomes, summary and manifest.
- `batch` (local batch), `video` (frame by frame; `video_masks`: a style's region per frame).
- `pairs`: the one request path to an export (sizes, mask, call, provenance, "already made?"),
  which `stylize --saved-model`, `request` and the engines below call.
- `beam` (Apache Beam batch on an export), `spark` (Apache Spark batch on an export).
- `tensorboard`: the progress events as TensorBoard summaries.
"""
