"""Seeds derived from values: every random draw in ocrpipe flows from one user seed through
these, so any line, batch or augmentation can be reproduced alone."""

from __future__ import annotations

import hashlib
from typing import Any


def derive_seed(*parts: Any) -> int:
    """A 64-bit seed from any values, stable across processes and runs (unlike hash())."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")
