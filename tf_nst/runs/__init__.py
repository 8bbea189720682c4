"""Drivers of whole runs over the engine: one image, batches (local, Beam), video; their progress."""
