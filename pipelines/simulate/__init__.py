"""Stage `simulate`: the built-in B2B journey data and its ground truth."""
