"""Stage `evaluate`: test-cohort metrics against baselines and truth; the promotion gate."""
