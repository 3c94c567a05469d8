"""The built-in B2B journey simulator: world, engine, runs and their sanity checks."""
