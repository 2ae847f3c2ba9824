"""How much resident memory a piece of work adds to this process at its peak, from Linux's high-water mark.

Writing 5 to /proc/self/clear_refs resets the high-water mark (VmHWM) to the
current resident size, so the peak of one step is measured in-process, not
hidden by whatever the process held before it (Linux 4.0 and later).
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")
RESET_PEAK = "5"
MIB = 1 << 20


def _status_bytes(field: str) -> int:
    kib = re.search(rf"^{field}:\s+(\d+) kB", STATUS.read_text(), re.MULTILINE)
    if kib is None:
        raise RuntimeError(f"{STATUS} has no {field}: peak memory cannot be measured on this system")
    return int(kib.group(1)) * 1024


@dataclass
class PeakGrowth:
    """Filled in when the measured block ends: how far its peak rose above the resident size at its start."""

    bytes: int = 0

    @property
    def mib(self) -> float:
        return self.bytes / MIB


@contextmanager
def peak_growth() -> Iterator[PeakGrowth]:
    """Measure the block's peak resident memory above the process's resident memory when it began."""
    CLEAR_REFS.write_text(RESET_PEAK)
    start = _status_bytes("VmRSS")
    growth = PeakGrowth()
    try:
        yield growth
    finally:
        growth.bytes = max(0, _status_bytes("VmHWM") - start)
