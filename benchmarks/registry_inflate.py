"""A registry store N × FACTOR rows large, from one of N residents, for the registry's RSS at scale.

    python -m benchmarks.registry_inflate SRC.db DST.db FACTOR

Generating and loading 10⁷ synthetic residents takes ≈ 1,300 s of CPU
(benchmarks/SCALE.md); what the registry's memory and look-up latency depend on
is the size of its tables and B-trees, not who is in them.  This copies a
store built by ``benchmarks.scale`` (``--components registry --keep``) and adds,
in SQL alone, FACTOR − 1 copies of every resident, earlier state and blocking
row under new row numbers and codes ``F<row>`` (no valid resident code: the
look-ups by code of ``registry-open`` take the valid ones); each copy's
blocking keys are the original's plus the copy's number, so no record finds a
copy: the copies are filler that makes the B-trees (and the file) FACTOR times
larger, while the N originals decide as before.  The
blocking table is rebuilt in key order (one sort), as ``import_residents``
builds it.  ``benchmarks.scale --child registry-open --size N×FACTOR`` then
measures the registry over it.
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
from pathlib import Path


def inflate(src: Path, dst: Path, factor: int) -> int:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{dst}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(src, dst)
    db = sqlite3.connect(dst, isolation_level=None)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-262144")
    (n,) = db.execute("SELECT max(person) FROM resident").fetchone()
    db.execute("BEGIN")
    for copy in range(1, factor):
        db.execute(
            "INSERT INTO resident SELECT person + ?1, printf('F%d', person + ?1), name, address,"
            " birth_date, sex, name_kana, removed_reason, removed_on FROM resident"
            " WHERE person <= ?2",
            (copy * n, n),
        )
        db.execute(
            "INSERT INTO earlier (person, name, address, birth_date, sex, name_kana)"
            " SELECT person + ?, name, address, birth_date, sex, name_kana FROM earlier"
            " WHERE person <= ?",
            (copy * n, n),
        )
    db.execute("CREATE TABLE blocking2 (key INTEGER NOT NULL, person INTEGER NOT NULL,"
               " PRIMARY KEY (key, person)) WITHOUT ROWID")  # fmt: skip
    copies = " UNION ALL ".join(
        f"SELECT key + {c}, person + {c * n} FROM blocking" for c in range(factor)
    )
    db.execute(f"INSERT OR IGNORE INTO blocking2 SELECT * FROM ({copies}) ORDER BY 1, 2")
    db.execute("DROP TABLE blocking")
    db.execute("ALTER TABLE blocking2 RENAME TO blocking")
    db.execute("COMMIT")
    db.execute("PRAGMA journal_mode=WAL")
    db.close()
    return int(n) * factor


if __name__ == "__main__":
    print(inflate(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])))
