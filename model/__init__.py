"""Pneumonia CNN: preprocessing, network, training, evaluation and explanation."""
import os

# TensorFlow's C++ start-up banners drown the CLIs' own progress lines.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# lime draws a terminal progress bar (tqdm) on every explanation; the app and
# the benches report their own progress.
os.environ.setdefault("TQDM_DISABLE", "1")
