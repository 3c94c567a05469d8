"""Stage `truth`: on simulated data, the true probabilities of a sample of test snapshots."""
