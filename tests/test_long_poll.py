"""Reads held for an answer (RK-FLOW-009): woken by the answer, their time, or a stop."""

from __future__ import annotations

import asyncio

import pytest

from renkei_reference.services.web.long_poll import Signals

pytestmark = pytest.mark.requirement("RK-FLOW-009")


def test_a_held_read_wakes_on_its_answer_and_not_on_another() -> None:
    async def scenario() -> tuple[bool, bool]:
        signals = Signals()
        mine = asyncio.create_task(signals.wait("lk-1", 5))
        other = asyncio.create_task(signals.wait("lk-2", 0.2))
        await asyncio.sleep(0.01)
        signals.notify("lk-1")
        return await mine, await other

    assert asyncio.run(scenario()) == (True, False)


def test_a_stopping_server_ends_every_hold_at_once_and_holds_no_new_read() -> None:
    """``close`` wakes the reads held now (each then answers with its linkage as it is),
    and a read that asks to wait afterwards is not held: nothing waits for the
    shutdown timeout."""

    async def scenario() -> tuple[list[bool], bool, float, int]:
        signals = Signals()
        loop = asyncio.get_running_loop()
        held = [asyncio.create_task(signals.wait(f"lk-{i}", 30)) for i in range(3)]
        await asyncio.sleep(0.01)
        started = loop.time()
        signals.close()
        woken = list(await asyncio.gather(*held))
        later = await signals.wait("lk-9", 30)
        return woken, later, loop.time() - started, len(signals)

    woken, later, took, left = asyncio.run(scenario())
    assert woken == [True, True, True]
    assert later is False
    assert took < 5
    assert left == 0
