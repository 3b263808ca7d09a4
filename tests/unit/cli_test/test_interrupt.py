"""Ctrl-C while following a test is acted on between polls, never inside a request."""

from __future__ import annotations

import os
import signal
import time

import pytest

from locust_operator.cli_test.follow import Timeouts, follow
from locust_operator.cli_test.interrupt import DeferredInterrupt
from locust_operator.cli_test.snapshot import Snapshot


class SlowRequests:
    """A watcher whose poll is an API request in flight when Ctrl-C arrives."""

    def __init__(self) -> None:
        self.polls = 0
        self.completed = 0

    def poll(self) -> Snapshot:
        self.polls += 1
        if self.polls == 2:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C mid-request
        time.sleep(0.05)
        self.completed += 1
        return Snapshot(phase="Running")


class NoDisplay:
    def update(self, snapshot: Snapshot) -> None:
        pass


def test_ctrl_c_during_a_request_interrupts_after_it_completes() -> None:
    watcher = SlowRequests()
    with pytest.raises(KeyboardInterrupt), DeferredInterrupt() as interrupt:
        follow(watcher, NoDisplay(), 0.01, Timeouts(), sleep=interrupt.sleep)
    assert watcher.polls == 2
    assert watcher.completed == 2  # the request in flight was not cut


def test_the_previous_handler_is_back_afterwards() -> None:
    before = signal.getsignal(signal.SIGINT)
    with DeferredInterrupt():
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before


def test_a_second_ctrl_c_interrupts_at_once() -> None:
    with pytest.raises(KeyboardInterrupt), DeferredInterrupt() as interrupt:
        os.kill(os.getpid(), signal.SIGINT)
        assert interrupt.requested
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)  # the second signal raises here, not after the sleep
        pytest.fail("not interrupted")
