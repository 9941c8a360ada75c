"""`python -m pipeline ...` runs the `ocrpipe` command (also under torchrun)."""

from pipeline.cli import main

main()
