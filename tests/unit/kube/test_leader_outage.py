"""A standby waiting for the Lease while the apiserver is gone logs the outage once, not
once per attempt (every retry period, for as long as the outage lasts)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.helpers import eventually
from tests.unit.test_leader import FAST, FakeLeaseStore, elector


class CountingStore(FakeLeaseStore):
    def __init__(self) -> None:
        super().__init__()
        self.attempts = 0

    def _check(self) -> None:
        self.attempts += 1
        super()._check()


async def test_a_standby_logs_an_outage_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    store = CountingStore()
    store.failing = True
    standby = elector(store, "standby", **FAST)
    acquiring = asyncio.create_task(standby.acquire())

    async def retried() -> bool:
        return store.attempts >= 5

    await eventually(retried, within=10, interval=0.01)
    store.failing = False
    await asyncio.wait_for(acquiring, 5)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "unreachable (ConnectionError: apiserver unreachable)" in warnings[0]
    assert standby.is_leader
