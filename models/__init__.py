"""Labels, cohorts, training, calibration, evaluation and the model registry."""
