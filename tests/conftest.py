"""Fixtures for every test."""

import os

import pytest
import torch

# Every Ray a test starts inherits these: no usage reports, and Serve's HTTP proxy given a
# minute (not 5 s) to come up on a loaded 2-core machine.
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S", "60")


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Small models run fastest on one thread, and other test processes share the cores."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
