"""Results and inputs as bytes for Redis, with numpy's own format and JSON: never pickle.

Whoever can write to the shared store could otherwise run code in every web
process that reads an explanation from it; these bytes can at worst decode
to a wrong array, and only into the types listed here.
"""
from __future__ import annotations

import dataclasses
import io
import json

import numpy as np

from model.explain.faithfulness import FaithfulnessCurves
from model.explain.lime import LimeExplanation, LimeSettings
from model.explain.stability import Stability
from review.jobs.kinds import Explanation

RESULT_TYPES = {kind.__name__: kind for kind in (Explanation, LimeExplanation, LimeSettings, Stability, FaithfulnessCurves)}
META = "meta"


def _encode(value: object, arrays: dict[str, np.ndarray]) -> object:
    if isinstance(value, np.ndarray):
        name = f"a{len(arrays)}"
        arrays[name] = value
        return {"array": name}
    if dataclasses.is_dataclass(value) and type(value).__name__ in RESULT_TYPES:
        fields = {field.name: _encode(getattr(value, field.name), arrays) for field in dataclasses.fields(value)}
        return {"type": type(value).__name__, "fields": fields}
    if isinstance(value, dict):
        return {"dict": {str(key): _encode(item, arrays) for key, item in value.items()}}
    if isinstance(value, (tuple, list)):
        return {"tuple": [_encode(item, arrays) for item in value]}
    if isinstance(value, np.generic):
        return {"value": value.item()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return {"value": value}
    raise TypeError(f"cannot store a {type(value).__name__} as a result")


def _decode(encoded: dict, arrays: np.lib.npyio.NpzFile) -> object:
    if "array" in encoded:
        return arrays[encoded["array"]]
    if "type" in encoded:
        kind = RESULT_TYPES[encoded["type"]]
        return kind(**{name: _decode(item, arrays) for name, item in encoded["fields"].items()})
    if "dict" in encoded:
        return {key: _decode(item, arrays) for key, item in encoded["dict"].items()}
    if "tuple" in encoded:
        return tuple(_decode(item, arrays) for item in encoded["tuple"])
    return encoded["value"]


def pack(value: object) -> bytes:
    """A result (the types above, dicts, tuples, arrays, numbers, strings) as one .npz file."""
    arrays: dict[str, np.ndarray] = {}
    meta = json.dumps(_encode(value, arrays)).encode()
    buffer = io.BytesIO()
    np.savez(buffer, **arrays, **{META: np.frombuffer(meta, dtype=np.uint8)})
    return buffer.getvalue()


def unpack(data: bytes) -> object:
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        return _decode(json.loads(arrays[META].tobytes()), arrays)
