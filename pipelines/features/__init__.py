"""Stage `features`: point-in-time belief-signal features for training and scoring."""
