"""How a person in Japan reads a time and a kind of information (RK-PORT-006).

The wire carries instants in UTC (RFC 3339) and information kinds as codes
(``resident-tax``); My Portal and the auditor's dashboard show them as a
person in Japan reads them: ``2026年12月6日 13時27分`` in Japan Standard Time
and ``住民税``.  This module is the one source of both for every page.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta, timezone
from types import MappingProxyType

__all__ = ["INFORMATION_KINDS", "JST", "jst_day_start", "jst_text", "kind_names"]

JST = timezone(timedelta(hours=9), "JST")
"""Japan Standard Time: UTC+9 all year (Japan keeps no summer time)."""

INFORMATION_KINDS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "resident-tax": ("住民税", "resident tax"),
        "local-tax": ("地方税関係情報", "local tax information"),
        "income": ("所得情報", "income"),
        "household": ("世帯情報", "household"),
        "resident-record": ("住民票関係情報", "resident record"),
        "pension-record": ("年金給付関係情報", "pension benefits"),
        "health-insurance": ("医療保険給付関係情報", "health insurance benefits"),
        "investigation": ("調査関係情報", "investigation"),
    }
)
"""Information kinds (⑥ 情報連携対象個人情報の種類) by code: (Japanese, English)."""


def kind_names(code: str) -> tuple[str, str]:
    """The Japanese and English name of an information kind; a code this table
    does not name is shown as it is, in both."""
    return INFORMATION_KINDS.get(code, (code, code))


def jst_text(at: datetime) -> str:
    """An aware instant as a person in Japan reads it, to the minute:
    ``2026年12月6日 13時27分`` (Japan Standard Time)."""
    if at.tzinfo is None:
        raise ValueError("an instant carries its offset")
    local = at.astimezone(JST)
    return f"{local.year}年{local.month}月{local.day}日 {local.hour}時{local.minute:02d}分"


def jst_day_start(day: date) -> datetime:
    """The first instant of a calendar day in Japan (a date a person enters)."""
    return datetime.combine(day, time(0, 0), JST)
