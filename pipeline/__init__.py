"""ocrpipe: fonts and text in, a trained text-line recognizer out."""

__version__ = "0.1.0"
