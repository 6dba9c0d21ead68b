"""Log levels kopf does not let one set: the per-event success lines of watch handlers.

kopf logs ``Handler 'wake_on_deployments' succeeded.`` at INFO for every watch event of
every child (about a dozen lines per Microservice on its way to Ready, and one per child
status change forever after): noise that buries the lines that matter and costs CPU to
format and write. They are demoted to DEBUG, so ``--verbose`` still shows them.
"""

from __future__ import annotations

import logging
import re

#: What kopf logs when a watch (``on.event``) handler of Gale returns.
WATCH_SUCCESS = re.compile(r"^Handler '(microservice_event|wake_on_[a-z]+)' succeeded\.$")


class DemoteWatchSuccess(logging.Filter):
    """Turn kopf's INFO success line of a watch handler into a DEBUG one."""

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__()
        self._logger = logger

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not WATCH_SUCCESS.match(str(record.msg)):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return self._logger.isEnabledFor(logging.DEBUG)


def demote_watch_successes() -> None:
    objects = logging.getLogger("kopf.objects")
    objects.addFilter(DemoteWatchSuccess(objects))
