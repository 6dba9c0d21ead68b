"""HTTPS from a certificate and key that are rotated underneath the running process.

Kubernetes updates a mounted Secret by writing a new timestamped directory and swapping the
``..data`` symlink to it, and cert-manager or the Gale operator renews certificates long
before the pod restarts. So the service polls the files' resolved targets and, when the pair
changes, loads it into a fresh :class:`ssl.SSLContext`.

Tornado keeps the one context it was given (:attr:`ReloadingTLS.context`); that context's
SNI callback, which OpenSSL runs on every handshake (SNI sent or not), switches each new
connection to the newest loaded context. Open connections keep the SSL state they began
with, so they finish undisturbed. Swapping whole contexts, rather than loading the new pair
into the live one, matters: OpenSSL keeps one certificate per key type, so an ECDSA→RSA
rotation loaded in place would keep serving the old ECDSA certificate to ECDSA-capable
clients, and a half-failed load would leave a context with no usable key.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import os
import ssl
import tempfile
from collections.abc import Iterator

log = logging.getLogger(__name__)

#: TLS 1.2 suites with forward secrecy and AEAD only (Mozilla "intermediate" minus DHE);
#: TLS 1.3 suites are OpenSSL's defaults, all modern.
MODERN_CIPHERS = ":".join(
    [
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
    ]
)


class TLSMaterialError(ValueError):
    """The certificate or key cannot be served (missing, unreadable, or not a pair)."""


def server_context() -> ssl.SSLContext:
    """A server context with Gale's protocol policy and no certificate yet."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(MODERN_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    context.set_alpn_protocols(["http/1.1"])
    return context


@dataclasses.dataclass(frozen=True)
class _FileState:
    """Where a path points now and that file's identity: any change means "look again"."""

    target: str
    inode: int
    mtime_ns: int
    size: int


def _file_state(path: str) -> _FileState:
    target = os.path.realpath(path)
    stat = os.stat(target)
    return _FileState(target, stat.st_ino, stat.st_mtime_ns, stat.st_size)


class ReloadingTLS:
    """A TLS context for Tornado's ``HTTPServer`` that follows rotations of its files.

    Construction loads the pair and raises :class:`TLSMaterialError` if it cannot, so a
    misconfigured pod fails at startup. Afterwards a bad pair (say, a certificate written
    before its key) is logged once and the last good one keeps serving until it is fixed.

    Wiring: ``HTTPServer(app, ssl_options=tls.context)``, then ``tls.start()`` once the
    event loop runs and ``await tls.stop()`` on shutdown.
    """

    def __init__(self, cert_file: str, key_file: str, *, poll_interval: float = 2.0) -> None:
        self.cert_file = cert_file
        self.key_file = key_file
        self.poll_interval = poll_interval
        self.reloads = 0
        self._rejected_digest = b""
        self._task: asyncio.Task[None] | None = None
        self._states, cert_pem, key_pem = self._read()
        self._digest = _digest(cert_pem, key_pem)
        self._current = _context_from_pem(cert_pem, key_pem, source=cert_file)
        #: What Tornado is given; it never changes, its callback picks the newest pair.
        self.context = _context_from_pem(cert_pem, key_pem, source=cert_file)
        self.context.sni_callback = self._select_context

    def _select_context(
        self, connection: ssl.SSLObject, server_name: str | None, context: ssl.SSLContext
    ) -> None:
        """Serve every new handshake from the newest loaded certificate."""
        connection.context = self._current

    def _read(self) -> tuple[tuple[_FileState, _FileState], bytes, bytes]:
        """Read the pair via its resolved targets; a swap while reading shows as a state change."""
        try:
            states = (_file_state(self.cert_file), _file_state(self.key_file))
            with open(states[0].target, "rb") as cert, open(states[1].target, "rb") as key:
                cert_pem, key_pem = cert.read(), key.read()
        except OSError as error:
            raise TLSMaterialError(f"cannot read TLS files: {error}") from error
        return states, cert_pem, key_pem

    def reload_if_changed(self) -> bool:
        """Load the files if they changed since the last good load; True when a new pair serves."""
        try:
            states = (_file_state(self.cert_file), _file_state(self.key_file))
        except OSError:
            return False  # mid-rotation: the old target is gone, the new one not linked yet
        if states == self._states:
            return False
        try:
            read_states, cert_pem, key_pem = self._read()
        except TLSMaterialError:
            return False
        digest = _digest(cert_pem, key_pem)
        if digest == self._digest:
            self._states = read_states  # touched or re-linked, same content
            return False
        try:
            context = _context_from_pem(cert_pem, key_pem, source=self.cert_file)
        except TLSMaterialError as error:
            if digest != self._rejected_digest:
                self._rejected_digest = digest
                log.warning("keeping the current certificate: %s", error)
            return False  # the state is not recorded, so the next poll tries again
        self._current, self._states, self._digest = context, read_states, digest
        self.reloads += 1
        log.info("TLS certificate reloaded from %s", read_states[0].target)
        return True

    async def watch(self) -> None:
        """Poll the files forever; cancel to stop.

        Each poll runs in a worker thread so a slow volume never stalls the event loop; the
        handshake callback only reads the ``_current`` reference, which is swapped whole.
        """
        while True:
            await asyncio.sleep(self.poll_interval)
            await asyncio.to_thread(self.reload_if_changed)

    def start(self) -> None:
        """Begin watching in the running event loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.watch(), name="tls-reload")

    async def stop(self) -> None:
        """Stop watching; the context keeps serving the last loaded certificate."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _digest(cert_pem: bytes, key_pem: bytes) -> bytes:
    return hashlib.sha256(cert_pem + b"\0" + key_pem).digest()


def _context_from_pem(cert_pem: bytes, key_pem: bytes, *, source: str) -> ssl.SSLContext:
    """A server context holding exactly these bytes (not whatever the files hold by now)."""
    context = server_context()
    with _private_file(cert_pem) as cert_path, _private_file(key_pem) as key_path:
        try:
            context.load_cert_chain(cert_path, key_path)
        except ssl.SSLError as error:
            raise TLSMaterialError(
                f"{source} and its key are not a usable certificate and key pair: {error}"
            ) from error
    return context


@contextlib.contextmanager
def _private_file(content: bytes) -> Iterator[str]:
    """A path to ``content`` only this process can read, gone afterwards.

    ``ssl`` loads certificates only from paths; an anonymous memory file keeps the key off
    disk where the platform has one, and a 0600 temporary file stands in elsewhere.
    """
    if hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd"):
        fd = os.memfd_create("gale-tls", os.MFD_CLOEXEC)
        try:
            os.write(fd, content)
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    fd, path = tempfile.mkstemp(prefix="gale-tls-")
    try:
        os.write(fd, content)
        os.close(fd)
        yield path
    finally:
        os.unlink(path)
