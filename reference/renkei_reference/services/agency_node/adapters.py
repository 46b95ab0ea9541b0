"""The adapter layer to the agency's business systems (RK-AGN-004).

The node reaches a business system only through ``BusinessSystem.fetch``, at
answer time, and keeps no copy of business data.  Two adapters ship:
``SqlAdapter`` (any DB-API 2.0 driver) and ``CsvFolderAdapter`` (CSV files
dropped into a folder).  Writing another is implementing ``fetch``.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

__all__ = ["Answer", "BusinessSystem", "CsvFolderAdapter", "SqlAdapter"]


@dataclass(frozen=True)
class Answer:
    """What a business system returns: the payload sent to the requester and a
    description of it for the agency's log (⑪; never the payload itself)."""

    payload: bytes
    description: str


class BusinessSystem(Protocol):
    """A legacy business system behind the adapter layer.

    ``fetch`` returns the information of ``information_kind`` about the person
    the agency knows as ``record_no``, or ``None`` when it holds none.  It is
    called at answer time, so the node keeps no copy of business data.  It must
    not raise for a missing record; it may raise ``OSError`` or a DB-API error
    when the system is down (the node then leaves the delivery unanswered and
    reports it).
    """

    def fetch(self, record_no: str, information_kind: str) -> Answer | None: ...


class SqlAdapter:
    """A business database reached through any DB-API 2.0 driver (PEP 249).

    ``query`` selects the content (and optionally a description as a second
    column) with the placeholders ``{record_no}`` and ``{kind}``, rewritten into
    the driver's ``paramstyle``; e.g.
    ``SELECT amount, 'tax ' || year FROM tax WHERE person = {record_no} AND kind = {kind}``.
    """

    _STYLES: ClassVar[dict[str, tuple[str, str]]] = {
        "qmark": ("?", "?"),
        "named": (":record_no", ":kind"),
        "format": ("%s", "%s"),
        "pyformat": ("%(record_no)s", "%(kind)s"),
        "numeric": (":1", ":2"),
    }

    def __init__(self, connect: Callable[[], Any], query: str, paramstyle: str) -> None:
        if paramstyle not in self._STYLES:
            raise ValueError(f"unsupported DB-API paramstyle {paramstyle!r}")
        rec, kind = self._STYLES[paramstyle]
        self._connect = connect
        self._sql = query.replace("{record_no}", rec).replace("{kind}", kind)
        self._named = paramstyle in ("named", "pyformat")

    def fetch(self, record_no: str, information_kind: str) -> Answer | None:
        params: Any = (
            {"record_no": record_no, "kind": information_kind}
            if self._named
            else (record_no, information_kind)
        )
        conn = self._connect()
        try:
            cur = conn.cursor()
            cur.execute(self._sql, params)
            row = cur.fetchone()
        finally:
            conn.close()
        if row is None or row[0] is None:
            return None
        value = row[0]
        payload = value if isinstance(value, bytes) else str(value).encode()
        description = str(row[1]) if len(row) > 1 and row[1] is not None else information_kind
        return Answer(payload, description)


class CsvFolderAdapter:
    """Files dropped into a folder by a legacy system: ``<information_kind>.csv``,
    UTF-8 (a BOM is accepted), with the columns ``record_no``, ``content`` and
    optionally ``description``.  The last row for a record wins, so a system can
    append corrections.  Files are read at answer time, never cached.
    """

    def __init__(self, folder: Path) -> None:
        self._folder = Path(folder)

    def fetch(self, record_no: str, information_kind: str) -> Answer | None:
        if "/" in information_kind or information_kind.startswith("."):
            return None
        path = self._folder / f"{information_kind}.csv"
        if not path.is_file():
            return None
        found: dict[str, str] | None = None
        with path.open(encoding="utf-8-sig", newline="") as f:
            for row in csv.DictReader(f):
                if row.get("record_no") == record_no:
                    found = row
        if found is None or found.get("content") in (None, ""):
            return None
        return Answer(found["content"].encode(), found.get("description") or information_kind)
