"""Small helpers every layer uses: atomic files, process pools, progress bars, seeds, timestamps and command lines."""
