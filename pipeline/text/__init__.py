"""What text is: charsets (the model's classes and the CTC frame rule), corpora, scripts, labels and
the generated codes (numbers, dates, prices) of each language. No images, no torch."""
