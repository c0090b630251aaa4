"""Text handling for matching: folding, tokenization, Arabic proclitics."""
