"""The run record every stage reads and writes: the manifest, the typed stage results, and the
locks that keep two commands from writing one run at once."""
