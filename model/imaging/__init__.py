"""From uploaded bytes to the network's input: formats, decoding, preprocessing, acquisition shifts."""
