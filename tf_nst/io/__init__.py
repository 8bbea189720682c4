"""Files, TensorFlow-free: images (decode, resize, encode), provenance in outputs and the "already made?"
check, atomic writes, input expansion over local paths and Beam's filesystems, video files in and out.
"""
