"""When the core's contracts are checked.

Every contract is checked in the test command and by CrossHair (both set
``ICONTRACT_SLOW=1``).  The contracts marked ``enabled=HOT`` sit on the
per-linkage path (code conversion, the pattern decision, the linkage state
machine, log leaves, the Merkle tree, checkpoint signing): in a running hub
they are off, because icontract's checking costs more there than the work it
checks (together about 150 µs of a linkage's ≈ 500 µs of hub CPU).
"""

from __future__ import annotations

import icontract

__all__ = ["HOT"]

HOT: bool = icontract.SLOW
