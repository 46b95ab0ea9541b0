"""Canonical JSON: sorted keys, no white space, UTF-8 text as is.

The one text the access log's leaves and records, the administrative log's
leaves and the retention records have for a value, so that a stored form is
checked byte for byte (core.log_integrity).  One encoder, made once: the same
output as ``json.dumps(value, sort_keys=True, separators=(",", ":"),
ensure_ascii=False)``, without building an encoder per call.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["canonical"]

_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(value: Any) -> str:
    """``value`` as canonical JSON text."""
    return _ENCODER.encode(value)
