"""Response compression for the media types this service actually sends.

Tornado's ``compress_response`` gzips ``text/*`` and a fixed list of types that includes
``application/json`` but not ``application/x-ndjson`` (exports, the largest responses by far)
nor ``application/problem+json``. Compression stays streaming: each flushed chunk of an
export is compressed and sent as it goes.
"""

from __future__ import annotations

from tornado.web import GZipContentEncoding


class Compression(GZipContentEncoding):
    """gzip when the client accepts it, for Tornado's types plus NDJSON and problem+json."""

    CONTENT_TYPES = GZipContentEncoding.CONTENT_TYPES | {
        "application/x-ndjson",
        "application/problem+json",
    }
