"""The agency node (中間サーバー / 連携サーバー; seed items 15, 19, 24, 28–29).

What each agency runs between its business systems and the hub:

* it alone holds the agency's **correspondence table** (record number ↔ link
  code, RK-BND-007/008), its **share of the log** (⑦–⑫, RK-LOG-003,
  RK-AGN-002) and its credentials;
* every linkage action needs a **designated staff member at a designated
  terminal** (RK-AGN-001); refusals are recorded;
* it reaches the hub only through the wire protocol (``HubConnection``: any
  ``httpx.Client`` pointed at a hub — HTTPS with the agency's client
  certificate in production, the in-process transport in tests) and names
  persons to the hub only by link codes;
* it reaches the business system through an **adapter** (RK-AGN-004) and
  fetches answer content when it answers, keeping no copy of business data.
  Two adapters ship: ``SqlAdapter`` (any DB-API 2.0 driver) and
  ``CsvFolderAdapter`` (CSV files dropped into a folder).  Writing another is
  implementing ``BusinessSystem.fetch`` — see its docstring;
* it converts the legacy forms of the 4 items its business systems hold (和暦
  and ``YYYYMMDD`` dates, full-width digits, sex codes such as ``1``/``2`` or
  ``男``/``女``) to the wire's forms before binding, and a record it cannot
  convert becomes that record's own problem (``core.legacy_formats``, RK-AGN-007).

The rules are pure (``core.agency``); this package holds state and does I/O, in
parts that each own their state:

* ``designation`` — the gate every linkage action passes, and its denials;
* ``correspondence`` — the correspondence table, binding and 4-item currency;
* ``queries`` — the requester side: queries and the answers read;
* ``deliveries`` — the provider side: deliveries held and answered, faults;
* ``disclosure`` — the person's applications for ⑪/⑫ and their decisions;
* ``adapters`` — the business systems; ``wire`` — the hub connection;
* ``node`` — ``AgencyNode``, the façade; ``runtime`` — ``DeliveryLoop``.
* ``log_store`` — the node's durable share of the log (⑦–⑫);
* ``app`` — the node's HTTP app; ``control`` — its test-mode control routes.
"""

from __future__ import annotations

from .adapters import Answer, BusinessSystem, CsvFolderAdapter, SqlAdapter
from .deliveries import NO_INFORMATION, Fault
from .designation import Denial
from .node import AgencyNode
from .runtime import DeliveryLoop
from .wire import HubConnection, HubRefusal

__all__ = [
    "NO_INFORMATION",
    "AgencyNode",
    "Answer",
    "BusinessSystem",
    "CsvFolderAdapter",
    "DeliveryLoop",
    "Denial",
    "Fault",
    "HubConnection",
    "HubRefusal",
    "SqlAdapter",
]
