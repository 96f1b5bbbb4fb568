"""The note model for chorales: grid, data, network, training, sampling, evaluation."""
