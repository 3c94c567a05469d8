"""Stage `train`: a calibrated LightGBM model per gate and the two baselines."""
