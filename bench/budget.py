"""What one prediction costs: floating-point operations per image and latency on this machine.

    python -m bench.budget [--model model/artifacts] [--repeats 30]

The predictor the app calls must stay within model.network.FLOPS_BUDGET per image, or
LIME's 1000 forward passes per explanation get slower. FLOPs are counted by
TensorFlow's profiler on the frozen inference graph (a multiply-add counts as
two); latencies are medians over repeats.
"""
from __future__ import annotations

import sys

import numpy as np

from bench.common import bench_parser, bench_setup, median_seconds, report
from model.network import FLOPS_BUDGET, flops_per_image

LIME_BATCH = 1000


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    classifier = bench_setup(args).classifier
    size = classifier.image_size
    flops = flops_per_image(classifier.network)
    rng = np.random.default_rng(0)
    one = rng.uniform(0, 255, (1, size, size, 1)).astype(np.float32)
    lime_batch = rng.uniform(0, 255, (LIME_BATCH, size, size, 1)).astype(np.float32)
    single = median_seconds(lambda: classifier.logits(one), args.repeats)
    batched = median_seconds(lambda: classifier.log_odds(lime_batch), max(3, args.repeats // 10))
    lines = [
        f"model {classifier.version}, input {size}x{size}, {classifier.network.count_params():,} parameters",
        f"FLOPs per image: {flops / 1e9:.3f} G (budget {FLOPS_BUDGET / 1e9:.1f} G): "
        f"{'within' if flops <= FLOPS_BUDGET else 'OVER'} budget",
        f"latency, one image: median {single * 1000:.1f} ms over {args.repeats} calls",
        f"latency, {LIME_BATCH} images in batches (LIME's forward passes, {classifier.precision}): median "
        f"{batched:.2f} s, "
        f"{batched / LIME_BATCH * 1000:.2f} ms per image, {flops * LIME_BATCH / batched / 1e9:.0f} GFLOP/s",
    ]
    report("\n".join(lines) + "\n", "budget.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
