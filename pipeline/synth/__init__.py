"""How a line is drawn: fonts and their coverage, effect presets, rendering through trdg, the
print-and-scan simulation, and the line maker that ties text, font and effects to a seed.
Never imports torch."""
