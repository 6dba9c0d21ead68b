"""The peers Gale's request path is measured against, each a small server doing the same read.

Every peer serves ``GET /items/{id}`` (one ``find_one`` on the same database) and ``GET /livez``,
and is started as ``python -m bench.peers.NAME URI DATABASE PORT``.
"""
