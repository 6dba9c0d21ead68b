"""kopf's per-event success lines of Gale's watch handlers are DEBUG; the rest keep their level."""

from __future__ import annotations

import logging

import pytest
from gale_operator.log_levels import DemoteWatchSuccess


def logged(caplog: pytest.LogCaptureFixture, level: int, message: str) -> list[tuple[str, str]]:
    logger = logging.getLogger("test.kopf.objects")
    logger.setLevel(level)
    demote = DemoteWatchSuccess(logger)
    logger.addFilter(demote)
    try:
        with caplog.at_level(level, logger=logger.name):
            logger.info(message)
    finally:
        logger.removeFilter(demote)
    return [(r.levelname, r.getMessage()) for r in caplog.records]


@pytest.mark.parametrize("handler", ["wake_on_deployments", "microservice_event"])
def test_a_watch_handler_success_is_debug(caplog: pytest.LogCaptureFixture, handler: str) -> None:
    message = f"Handler '{handler}' succeeded."
    assert logged(caplog, logging.INFO, message) == []
    caplog.clear()
    assert logged(caplog, logging.DEBUG, message) == [("DEBUG", message)]


@pytest.mark.parametrize(
    "message",
    ["Handler 'tls_check' succeeded.", "Handler 'wake_on_deployments' failed.", "Deleted."],
)
def test_other_lines_keep_their_level(caplog: pytest.LogCaptureFixture, message: str) -> None:
    assert logged(caplog, logging.INFO, message) == [("INFO", message)]
