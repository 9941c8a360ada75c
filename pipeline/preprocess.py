"""The public way to prepare a line image for an ocrpipe model, the path the README and the
export sidecar name: `from pipeline.preprocess import load_line`. The code lives in
`pipeline.datasets.images`; this module keeps that documented path stable."""

from pipeline.datasets.images import STEPS, BadImage, decode_image, load_line

__all__ = ["STEPS", "BadImage", "decode_image", "load_line"]
