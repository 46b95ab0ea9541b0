"""The judgement after a run: the hub as its auditor sees it, against the ledger.

* **receipts lost** — an acknowledged receipt whose entry the hub no longer serves with
  the same leaf, or whose checkpoint is not a prefix of the final one (consistency
  proof), or whose entry is not in the final tree (inclusion proof);
* **answers lost** — the provider's node logged that the hub took its answer (``answered``
  in the node's share of the log), the requester never received it, and the hub's
  log has no ``expired`` entry for it; split by whether the hub's log says ``provided``;
* **delivered twice** — an answer relayed to the requester again after it was
  acknowledged, or a different answer (RK-FLOW-002 hands one answer out until the
  requester acknowledges it);
* **orphaned linkages** — an ``approved`` entry in the auditor's view with no later
  entry for its linkage, read after the hub's clock passed every deadline + slack;
* **proofs** — a consistency proof from every checkpoint seen to the final one, and
  no two checkpoints of the same size with different roots (a fork)."""

from __future__ import annotations

import base64
from collections import Counter, defaultdict
from typing import Any

import httpx

from .federation import Federation
from .ledger import Ledger
from .tlog import Checkpoint, verify_consistency, verify_inclusion

__all__ = ["auditor_entries", "judge", "node_entries"]

AUDITOR = "demo.auditor"


def _get(client: httpx.Client, url: str, **params: Any) -> dict[str, Any]:
    resp = client.get(url, params=params or None)
    resp.raise_for_status()
    data: dict[str, Any] = resp.json()
    return data


def _pages(client: httpx.Client, url: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    after = 0
    while True:
        page = _get(client, url, after=after, limit=1000)
        entries = page.get("entries", [])
        out.extend(entries)
        nxt = page.get("next_after")
        if not entries or nxt is None or nxt <= after:
            return out
        after = int(nxt)


def auditor_entries(fed: Federation) -> list[dict[str, Any]]:
    """Every entry of the hub's access log, as the demo auditor reads it."""
    return _pages(fed.client(AUDITOR), fed.party("auditor") + "/access-logs")


def node_entries(fed: Federation, agency: str) -> list[dict[str, Any]]:
    """A node's share of the log (⑦–⑫), as the demo auditor reads it."""
    return _pages(fed.client(AUDITOR), fed.node_url(agency) + "/agency/access-logs")


def _consistent(fed: Federation, cp: Checkpoint, final: Checkpoint, cache: dict[Any, bool]) -> bool:
    key = (cp.size, cp.root)
    if key not in cache:
        if cp.size == 0:
            cache[key] = True
        elif cp.size > final.size:
            cache[key] = False
        else:
            url = fed.party("hub") + "/checkpoints/consistency"
            resp = fed.client(AUDITOR).get(url, params={"first": cp.size, "second": final.size})
            ok = resp.status_code == 200
            if ok:
                proof = [base64.b64decode(p) for p in resp.json()["proof"]]
                ok = verify_consistency(cp.size, final.size, cp.root, final.root, proof)
            cache[key] = ok
    return cache[key]


def _receipts(
    fed: Federation, ledger: Ledger, final: Checkpoint, cache: dict[Any, bool]
) -> dict[str, Any]:
    lost: list[dict[str, Any]] = []
    seen: dict[tuple[str, int], dict[str, Any] | None] = {}
    for r in ledger.receipts:
        key = (r.linkage_id, r.serial)
        if key not in seen:
            # the requester asks: the hub refuses the auditor here (403 forbidden-role),
            # though the OpenAPI names the auditor among the callers
            link = ledger.linkages.get(r.linkage_id)
            who = link.requester if link is not None else AUDITOR
            url = fed.party("hub") + f"/linkages/{r.linkage_id}/receipt"
            resp = fed.client(who).get(url, params={"serial": r.serial})
            seen[key] = resp.json() if resp.status_code == 200 else None
        now = seen[key]
        why = None
        if now is None:
            why = "entry no longer served"
        elif base64.b64decode(now["leaf"]) != r.leaf:
            why = "entry differs from the acknowledged leaf"
        elif not _consistent(fed, r.checkpoint, final, cache):
            why = "its checkpoint is not a prefix of the final one"
        else:
            cp = ledger.checkpoint(str(now["checkpoint"]))
            proof = [base64.b64decode(p) for p in now["inclusion_proof"]]
            if cp is None or not verify_inclusion(
                r.leaf_hash, int(now["leaf_index"]), cp.size, proof, cp.root
            ):
                why = "not included in the tree it is served from"
            elif not _consistent(fed, cp, final, cache):
                why = "served from a checkpoint that is not a prefix of the final one"
        if why is not None:
            lost.append(
                {"linkage_id": r.linkage_id, "serial": r.serial, "start": r.incarnation, "why": why}
            )
    return {
        "acknowledged": len(ledger.receipts),
        "distinct_entries": len(seen),
        "did_not_verify_on_arrival": len(ledger.bad_receipts),
        "lost": len(lost),
        "lost_examples": lost[:10],
    }


def judge(fed: Federation, ledger: Ledger) -> dict[str, Any]:
    """Read the hub and the nodes, compare with the ledger; every figure as JSON."""
    resp = fed.client(AUDITOR).get(fed.party("hub") + "/checkpoints/latest")
    resp.raise_for_status()
    final = ledger.checkpoint(str(resp.json()["checkpoint"]))
    if final is None:
        raise RuntimeError(
            f"the final checkpoint does not verify with the pinned key: {ledger.bad_receipts[-1:]}"
        )
    cache: dict[Any, bool] = {}
    receipts = _receipts(fed, ledger, final, cache)

    with ledger.lock:
        checkpoints = [cp for roots in ledger.checkpoints.values() for cp in roots.values()]
        forks = sorted(size for size, roots in ledger.checkpoints.items() if len(roots) > 1)
    inconsistent = [cp.size for cp in checkpoints if not _consistent(fed, cp, final, cache)]

    entries = auditor_entries(fed)
    outcomes: dict[str, list[str]] = defaultdict(list)
    approved_ids: Counter[tuple[str, str]] = Counter()
    for e in entries:
        if e.get("linkage_id"):
            outcomes[str(e["linkage_id"])].append(str(e["outcome"]))
        if e.get("outcome") == "approved" and e.get("request_id"):
            approved_ids[(str(e.get("requester_id")), str(e["request_id"]))] += 1
    orphans = sorted(lid for lid, outs in outcomes.items() if outs and set(outs) == {"approved"})
    links = ledger.linkages

    provider_acked: set[str] = set()
    for agency in fed.nodes:
        for e in node_entries(fed, agency):
            if (
                e.get("side") == "provider"
                and e.get("outcome") == "answered"
                and e.get("linkage_id")
            ):
                provider_acked.add(str(e["linkage_id"]))

    lost_provided, lost_silent, expired_after_ack, unknown = [], [], [], 0
    for lid in sorted(provider_acked):
        link = links.get(lid)
        if link is None:
            unknown += 1  # approved at the hub, but its 202 never reached the harness
            continue
        if link.payloads:
            continue
        if "expired" in outcomes.get(lid, []):
            expired_after_ack.append(lid)
        elif "provided" in outcomes.get(lid, []):
            lost_provided.append(lid)
        else:
            lost_silent.append(lid)
    twice = sorted(lid for lid, x in links.items() if len(x.payloads) > 1)
    answers_by_record: dict[tuple[str, str], set[str]] = defaultdict(set)
    for x in links.values():
        for p in x.payloads:
            answers_by_record[(x.provider, x.record_no)].add(p)
    mismatched = sum(len(v) > 1 for v in answers_by_record.values())
    unlogged = sorted(
        lid for lid, x in links.items() if x.payloads and "provided" not in outcomes.get(lid, [])
    )
    main = [x for x in links.values() if not x.replay]

    return {
        "target": "renkei serve (mutual TLS, agency nodes)",
        "starts": fed.starts,
        "linkages": {
            "approved_acknowledged": len(main),
            "through_nodes": sum(x.path == "node" for x in main),
            "direct": sum(x.path == "direct" for x in main),
            "answered_to_requester": sum(bool(x.payloads) for x in main),
            "forgotten_by_hub": sum(x.forgotten is not None for x in main),
            "requests_without_response": ledger.unacknowledged,
            "approved_in_log": sum("approved" in o for o in outcomes.values()),
        },
        "receipts": receipts,
        "answers": {
            "acknowledged_to_provider": len(provider_acked),
            "acknowledged_to_provider_unknown_to_requester": unknown,
            "lost": len(lost_provided) + len(lost_silent),
            "lost_log_says_provided": len(lost_provided),
            # relayed and logged, but the response never reached the harness: killed
            # between commit and send (direct), or the requester's node — same process —
            # killed after it took the answer (node)
            "lost_log_says_provided_by_path": dict(Counter(links[x].path for x in lost_provided)),
            "lost_without_outcome": len(lost_silent),
            "lost_examples": (lost_provided + lost_silent)[:10],
            "expired_after_provider_ack": len(expired_after_ack),
            "delivered_twice": len(twice),
            "delivered_twice_examples": twice[:10],
            "relayed_without_provided_entry": len(unlogged),
            "records_with_differing_answers": mismatched,
        },
        "orphaned_linkages": {
            "all": len(orphans),
            "acknowledged": sum(lid in links for lid in orphans),
            "examples": orphans[:10],
        },
        "request_ids_approved_twice_in_log": sum(v > 1 for v in approved_ids.values()),
        "proofs": {
            "checkpoints_seen": len(checkpoints),
            "final_tree_size": final.size,
            "inconsistent_with_final": len(inconsistent),
            "inconsistent_sizes": inconsistent[:10],
            "forks": forks[:10],
            "verifier_keys_seen": len(ledger.verifier_keys_seen),
            "consistent": not inconsistent and not forks and len(ledger.verifier_keys_seen) == 1,
        },
        "statuses": dict(sorted(ledger.statuses.items())),
    }
