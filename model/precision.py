"""Which arithmetic the network runs in on this machine: bfloat16 where the CPU computes it natively.

One rule for training and inference. oneDNN runs bfloat16 convolutions on
AMX or AVX-512 BF16 units at about twice the float32 rate (training steps
855 -> 381 ms; LIME's 1000 forward passes 3.6 -> 2.2 s on AVX-512 BF16
alone); on CPUs without them bfloat16 would be emulated and slower, and on a
GPU float32 is fast enough, so `auto` keeps float32 there.
"""
from __future__ import annotations

import os
from pathlib import Path

import tensorflow as tf

FLOAT32 = "float32"
MIXED_BFLOAT16 = "mixed_bfloat16"
PRECISIONS = (FLOAT32, MIXED_BFLOAT16)
AUTO = "auto"
# Overrides `auto` for the app and the CLIs, e.g. to compare with float32 on the same machine.
PRECISION_ENV = "XRAY_PRECISION"
BFLOAT16_CPU_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})


def cpu_flags() -> frozenset[str]:
    try:
        return frozenset(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return frozenset()


def native_bfloat16() -> bool:
    """True when the CPU has bfloat16 instructions and no GPU would run the network instead."""
    return not tf.config.list_physical_devices("GPU") and bool(BFLOAT16_CPU_FLAGS & cpu_flags())


def resolve_precision(requested: str = AUTO) -> str:
    """The Keras dtype policy for `requested`; auto reads XRAY_PRECISION, then the CPU."""
    if requested == AUTO:
        requested = os.environ.get(PRECISION_ENV, AUTO)
    if requested == AUTO:
        return MIXED_BFLOAT16 if native_bfloat16() else FLOAT32
    if requested not in PRECISIONS:
        raise ValueError(f"Unknown precision {requested!r}; use {AUTO} or one of {', '.join(PRECISIONS)}.")
    return requested


def cpu_description() -> str:
    """The bfloat16 units this CPU reports, for benchmark headers."""
    units = sorted(BFLOAT16_CPU_FLAGS & cpu_flags())
    return f"CPU bfloat16 units: {', '.join(units) if units else 'none'}"
