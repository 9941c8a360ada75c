"""Scoring: edit-distance metrics, the HTML report, and Tesseract as the comparison."""
