"""Static files with the same security headers as every other response.

``static_url()`` adds a content hash (``?v=...``); Tornado then answers with a one-year
``Cache-Control: max-age`` with ``immutable``, since a changed file gets a new URL.
"""

from __future__ import annotations

from tornado.web import HTTPError, StaticFileHandler

from gale_service.security.headers import set_security_headers

#: Content-hashed URLs never change meaning, so a year (the RFC 9111 practical maximum).
CACHE_SECONDS = 365 * 86_400


class StaticFiles(StaticFileHandler):
    def set_default_headers(self) -> None:
        set_security_headers(self)

    def parse_url_path(self, url_path: str) -> str:
        """No file name holds a control character: a NUL would reach ``os.stat`` (a
        ``ValueError``, so a 500) and CR/LF only ever come from a probe."""
        if any(ord(char) < 0x20 or char == "\x7f" for char in url_path):
            raise HTTPError(404)
        return super().parse_url_path(url_path)

    def set_extra_headers(self, path: str) -> None:
        if "v" in self.request.arguments:
            self.set_header("Cache-Control", f"public, max-age={CACHE_SECONDS}, immutable")
