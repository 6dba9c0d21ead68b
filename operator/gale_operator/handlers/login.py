"""Log kopf in with the operator's own name, so its writes name the field manager too.

An API server records a write without ``fieldManager`` under its client's User-Agent
(up to the first ``/``). kopf's own writes (finalizers, Events) carry no field manager, so
kopf gets an HTTP session that introduces itself as ``gale-operator``, as Gale's own client
does: every object's ``managedFields`` then name one manager, ``gale-operator``.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import kopf

from gale_operator.kube.client import USER_AGENT


@kopf.on.login(id="login")
async def login(logger: kopf.Logger, **kwargs: Any) -> kopf.AiohttpSession | None:
    """kopf's own credential discovery (service account, then kubeconfig), renamed."""
    info = kopf.login_with_service_account(logger=logger, **kwargs) or kopf.login_with_kubeconfig(
        logger=logger, **kwargs
    )
    if info is None:
        return None
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, ssl=info.as_ssl_context()),
        headers={**info.as_http_headers(), "User-Agent": USER_AGENT},
        proxy=info.proxy_url,
        trust_env=info.trust_env,
    )
    return kopf.AiohttpSession(
        aiohttp_session=session,
        server=info.server,
        default_namespace=info.default_namespace,
        priority=info.priority,
        expiration=info.expiration,
    )
