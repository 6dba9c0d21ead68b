"""One small seam over PyMongo's native async API and Motor.

PyMongo's ``AsyncMongoClient`` is the default: MongoDB deprecated Motor on 2025-05-14. Motor
stays selectable (``GALE_MONGO_DRIVER=motor``) because the design card names it. The two
agree on collection CRUD; they differ where this module absorbs it:

- ``watch``: PyMongo async returns the change stream from a coroutine
  (``async with await coll.watch()``); Motor returns it at once.
- sessions: PyMongo async ``client.start_session()`` is plain; Motor's must be awaited.
- ``close``: a coroutine in PyMongo async, a plain call in Motor.

Everything above this module gets a :class:`MongoGateway` and never imports a driver.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import itertools
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import pymongo
from pymongo import AsyncMongoClient
from pymongo.errors import (
    ConnectionFailure,
    ExecutionTimeout,
    NetworkTimeout,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
    WTimeoutError,
)

T = TypeVar("T")
Document = dict[str, Any]
#: A collection of either driver; both answer the same CRUD calls.
Collection = Any
Session = Any

UNAVAILABLE_ERRORS: tuple[type[PyMongoError], ...] = (
    ConnectionFailure,  # includes AutoReconnect, NetworkTimeout, ServerSelectionTimeoutError
    ServerSelectionTimeoutError,
    NetworkTimeout,
    ExecutionTimeout,
    WTimeoutError,
)


class DatabaseUnavailable(Exception):
    """MongoDB cannot serve this request right now (unreachable, or a transaction that kept
    conflicting past its budget); the caller should answer 503 and retry later."""


#: "$changeStream is only supported on replica sets", CommandNotSupported, and friends.
NO_CHANGE_STREAMS = frozenset({40573, 115, 303})


class ChangeStreamEnded(Exception):
    """The server ended a change stream: ``expired`` when its lifetime (the client's
    timeoutMS) ran out, so it should be reopened at once; ``unsupported`` when the server has
    no change streams at all; otherwise it failed and may be retried later."""

    def __init__(self, reason: str, *, expired: bool, unsupported: bool) -> None:
        super().__init__(reason)
        self.expired = expired
        self.unsupported = unsupported


#: A transaction's outcome hook: called, detached from the request, after an attempt failed.
AbortHook = Callable[[], Awaitable[None]]


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


class MongoGateway:
    """A connected client plus the database the service uses, for either driver."""

    def __init__(
        self,
        client: Any,
        *,
        database: str,
        driver: str,
        transaction_budget: float = 5.0,
        server_selection_timeout: float = 2.0,
        operation_timeout: float | None = None,
    ) -> None:
        self._client = client
        self.driver = driver
        self.transaction_budget = transaction_budget
        self.server_selection_timeout = server_selection_timeout
        self.operation_timeout = (
            transaction_budget if operation_timeout is None else operation_timeout
        )
        self._probe: asyncio.Task[None] | None = None
        self.database_name = database
        self.database = client[database]
        self._abort_hooks: dict[int, list[AbortHook]] = {}
        self._background: set[asyncio.Task[None]] = set()

    def collection(self, name: str) -> Collection:
        return self.database[name]

    async def ping(self) -> None:
        """Round-trip to the server; raises :class:`DatabaseUnavailable` when it can't."""
        async with translate_errors():
            await self.database.command("ping")

    def operation(self, *, streaming: bool = False) -> Operation:
        """Around every store operation (``async with gateway.operation():``): fail fast while
        no server is known (see :meth:`available`), then :func:`translate_errors`.

        Unless ``streaming`` (a cursor a client reads at its own pace), the operation gets
        one deadline, ``timeoutMS`` from now, for all it sends. That deadline starts before
        Motor queues the work for its thread pool: otherwise time spent waiting for a
        thread came on top of timeoutMS (in an outage, requests answered after twice timeoutMS).
        """
        return Operation(self, streaming=streaming)

    async def available(self) -> None:
        """Return once the driver knows a writable server; :class:`DatabaseUnavailable`
        after ``server_selection_timeout`` seconds otherwise.

        With ``timeoutMS`` set, both drivers wait for a server for the whole remaining
        operation timeout and ignore ``serverSelectionTimeoutMS``; Motor moreover waits in
        its thread pool, so during an outage requests queued behind blocked threads. This
        waits on the event loop instead, and answers within the server-selection timeout.
        A background ping (one at a time) keeps the driver rediscovering the server.
        """
        if self.reachable():
            return
        deadline = time.monotonic() + self.server_selection_timeout
        while not self.reachable():
            if self._probe is None or self._probe.done():
                self._probe = asyncio.get_running_loop().create_task(self._ping_quietly())
            if time.monotonic() >= deadline:
                raise DatabaseUnavailable(self.unavailable_reason())
            await asyncio.sleep(0.02)

    def reachable(self) -> bool:
        """Whether the driver knows a writable server right now (no I/O, no waiting)."""
        return bool(self._client.topology_description.has_writable_server())

    def unavailable_reason(self) -> str:
        """Why the driver has no server: the last error its monitor recorded, if any."""
        errors = [
            str(description.error)
            for description in self._client.topology_description.server_descriptions().values()
            if description.error is not None
        ]
        if errors:
            return f"no MongoDB server available: {errors[0][:200]}"
        return f"no MongoDB server available within {self.server_selection_timeout:g} s"

    async def _ping_quietly(self) -> None:
        with contextlib.suppress(PyMongoError):
            await self.database.command("ping")

    @asynccontextmanager
    async def watch(
        self,
        collection: str,
        pipeline: Sequence[Mapping[str, Any]] = (),
        **options: Any,
    ) -> AsyncIterator[Any]:
        """A change stream on ``collection`` (``async for change in stream``). Its failures
        arrive as :class:`ChangeStreamEnded` or :class:`DatabaseUnavailable`, never as a
        driver's exception: nothing above this module handles those."""
        try:
            stream = await _maybe_await(
                self.collection(collection).watch(list(pipeline), **options)
            )
            try:
                yield stream
            finally:
                await stream.close()
        except OperationFailure as error:
            raise ChangeStreamEnded(
                str(error)[:200],
                expired=bool(error.timeout),
                unsupported=error.code in NO_CHANGE_STREAMS,
            ) from error
        except PyMongoError as error:
            raise DatabaseUnavailable(_reason(error)) from error

    def after_abort(self, session: Session, hook: AbortHook) -> None:
        """Run ``hook`` if the current transaction attempt of ``session`` does not commit.

        It runs as a background task, so a failing write answers at once even if the hook
        must wait (the event log fences its allocated positions this way).
        """
        self._abort_hooks.setdefault(id(session), []).append(hook)

    async def in_transaction(self, work: Callable[[Session], Awaitable[T]]) -> T:
        """Run ``work(session)`` in a multi-document transaction, retrying transient errors.

        A transient error (a write conflict on the same item, say) is retried after a jittered
        exponential backoff, and so is a commit whose result is unknown, but only until
        ``transaction_budget`` seconds have passed; then :func:`translate_errors` turns it into
        :class:`DatabaseUnavailable` (503). The drivers' own ``with_transaction`` keeps
        retrying for a fixed 120 s, which would hold a write request for two minutes.
        Connectivity errors are not retried: the caller answers 503 with Retry-After.
        """
        await self.available()
        deadline = time.monotonic() + self.transaction_budget
        session = await _maybe_await(self._client.start_session())
        try:
            # One client-side deadline for every operation of every attempt; otherwise each
            # retry (a commit whose result is unknown, above all) got a timeoutMS of its own
            # and a write in flight when the database died answered after twice the budget.
            with pymongo.timeout(self.transaction_budget):
                for attempt in itertools.count():
                    try:
                        return await self._attempt(session, work, deadline=deadline)
                    except PyMongoError as error:
                        backoff = random.uniform(0, min(0.005 * 2**attempt, 0.25))  # noqa: S311
                        retry = (
                            error.has_error_label("TransientTransactionError")
                            and not isinstance(error, UNAVAILABLE_ERRORS)
                            and time.monotonic() + backoff < deadline
                        )
                        if not retry:
                            raise
                        await asyncio.sleep(backoff)
            raise AssertionError("unreachable")  # pragma: no cover
        finally:
            self._abort_hooks.pop(id(session), None)
            with pymongo.timeout(self.server_selection_timeout):  # best effort; see below
                await _maybe_await(session.end_session())

    async def _attempt(
        self, session: Session, work: Callable[[Session], Awaitable[T]], *, deadline: float
    ) -> T:
        self._abort_hooks.pop(id(session), None)
        await _maybe_await(session.start_transaction())
        try:
            result = await work(session)
            while True:
                try:
                    await _maybe_await(session.commit_transaction())
                except PyMongoError as error:
                    unknown = error.has_error_label("UnknownTransactionCommitResult")
                    if unknown and time.monotonic() < deadline:
                        continue
                    raise
                self._abort_hooks.pop(id(session), None)
                return result
        except BaseException:
            if session.in_transaction:
                # Best effort, and short: after a connectivity error the abort would
                # otherwise wait the rest of the budget for a server that is gone (the
                # server aborts an abandoned transaction by itself).
                with (
                    contextlib.suppress(PyMongoError),
                    pymongo.timeout(self.server_selection_timeout),
                ):
                    await _maybe_await(session.abort_transaction())
            for hook in self._abort_hooks.pop(id(session), []):
                self._detach(hook())
            raise

    def _detach(self, work: Awaitable[None]) -> None:
        async def run() -> None:
            with contextlib.suppress(PyMongoError, DatabaseUnavailable):
                await work

        # A fresh context: not the failed transaction's (nearly spent) client deadline.
        task = asyncio.get_running_loop().create_task(run(), context=contextvars.Context())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
        if self._background:
            await asyncio.wait(set(self._background), timeout=self.transaction_budget)
        for task in set(self._background):
            task.cancel()  # readers fence what these would have
        await _maybe_await(self._client.close())


class Operation:
    """:meth:`MongoGateway.operation`, as a plain async context manager: it wraps every store
    call, and a generator-based one (with :func:`translate_errors` and :meth:`available` as
    coroutines of their own inside) cost three coroutines per call where a reachable server
    needs none."""

    __slots__ = ("_deadline", "_gateway", "_streaming")

    def __init__(self, gateway: MongoGateway, *, streaming: bool) -> None:
        self._gateway = gateway
        self._streaming = streaming
        self._deadline: Any = None

    async def __aenter__(self) -> None:
        gateway = self._gateway
        if not gateway.reachable():
            await gateway.available()
        if not self._streaming:
            self._deadline = pymongo.timeout(gateway.operation_timeout)
            self._deadline.__enter__()

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: Any
    ) -> None:
        if self._deadline is not None:
            self._deadline.__exit__(kind, error, traceback)
        if isinstance(error, PyMongoError):
            translated = _translated(error)
            if translated is not None:
                raise translated from error


@asynccontextmanager
async def translate_errors() -> AsyncIterator[None]:
    """Turn the drivers' connectivity errors, and transaction errors still transient once
    the retry budget is spent, into :class:`DatabaseUnavailable`."""
    try:
        yield
    except PyMongoError as error:
        translated = _translated(error)
        if translated is None:
            raise
        raise translated from error


def _translated(error: PyMongoError) -> DatabaseUnavailable | None:
    """What :func:`translate_errors` raises instead of ``error``; ``None`` to let it through."""
    if isinstance(error, UNAVAILABLE_ERRORS):
        return DatabaseUnavailable(_reason(error))
    if error.has_error_label("TransientTransactionError") or error.has_error_label(
        "UnknownTransactionCommitResult"
    ):
        return DatabaseUnavailable(f"transaction not committed: {_reason(error)}")
    return None


def _reason(error: BaseException) -> str:
    return (str(error).split(",")[0][:200]) or type(error).__name__


def connect(
    uri: str,
    *,
    database: str,
    driver: str = "pymongo",
    max_pool_size: int = 50,
    min_pool_size: int = 0,
    server_selection_timeout_ms: int = 2_000,
    connect_timeout_ms: int = 2_000,
    timeout_ms: int = 5_000,
    write_concern: str = "majority",
    journal: bool = True,
    app_name: str = "gale-service",
    event_listeners: Sequence[Any] = (),
) -> MongoGateway:
    """Create the client lazily: nothing is sent until the first operation."""
    options: dict[str, Any] = {
        "maxPoolSize": max_pool_size,
        "minPoolSize": min_pool_size,
        "serverSelectionTimeoutMS": server_selection_timeout_ms,
        "connectTimeoutMS": connect_timeout_ms,
        "timeoutMS": timeout_ms,
        "w": int(write_concern) if write_concern.isdigit() else write_concern,
        "journal": journal,
        "appname": app_name,
        "tz_aware": True,
        # Command and pool listeners (telemetry) work the same for both drivers.
        "event_listeners": list(event_listeners),
    }
    if driver == "motor":
        from motor.motor_asyncio import AsyncIOMotorClient

        client: Any = AsyncIOMotorClient(uri, **options)
    else:
        client = AsyncMongoClient(uri, **options)
    return MongoGateway(
        client,
        database=database,
        driver=driver,
        transaction_budget=timeout_ms / 1000,
        server_selection_timeout=server_selection_timeout_ms / 1000,
        operation_timeout=timeout_ms / 1000,
    )


__all__ = [
    "Collection",
    "DatabaseUnavailable",
    "Document",
    "MongoGateway",
    "Operation",
    "Session",
    "connect",
    "translate_errors",
]
