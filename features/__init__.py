"""Point-in-time belief-signal features: catalogue, sources, snapshots and their build."""
