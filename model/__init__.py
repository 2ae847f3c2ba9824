"""Pneumonia CNN: preprocessing, network, training, evaluation and explanation."""
import os

# TensorFlow's C++ start-up banners drown the CLIs' own progress lines.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
