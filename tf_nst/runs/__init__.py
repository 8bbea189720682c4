"""Drivers of whole runs over the engine, and the contract they share.

- `contract`: the stop request and the progress events every driver emits and every front end renders.
- `records`: a batch's pairs, per-pair outcomes, summary and manifest.
- `batch` (local batch), `beam` (Apache Beam batch on an export), `video` (frame by frame;
  `video_masks`: a style's region per frame).
- `tensorboard`: the progress events as TensorBoard summaries.
"""
