"""The pipeline stages (one folder per dvc.yaml stage) and the `readiness` command line."""
