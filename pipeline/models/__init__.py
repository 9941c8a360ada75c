"""The recognizer: the CRNN, checkpoints, the device runtime, inference, CTC decoding and the
character language model used in beam search."""
