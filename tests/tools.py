"""Locating the external tools that tests drive for real.

A test that needs a tool which is not installed fails with the command that installs it:
a silent skip would let CI pass while checking nothing.
"""

from __future__ import annotations

import shutil

import pytest


def require_tool(command: str, *, install: str) -> str:
    """Return the absolute path of ``command`` or fail the test saying how to install it."""
    path = shutil.which(command)
    if path is None:
        pytest.fail(f"{command!r} is not installed; install it with: {install}", pytrace=False)
    return path
