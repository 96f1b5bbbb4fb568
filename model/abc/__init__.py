"""The ABC char-RNN: notation, bar tracker, data, network, training, sampling, evaluation."""
