"""Files: images (decode, resize, encode), provenance in outputs, atomic writes (TensorFlow-free)."""
