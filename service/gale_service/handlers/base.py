"""The base every API handler shares: content negotiation, JSON bodies, problem+json errors.

Handlers stay thin: parse and validate the request here, call the store, render the result.
"""

from __future__ import annotations

import functools
import json
import os
import re
import time
from http.client import responses
from typing import Any, TypeVar

import tornado
from pydantic import BaseModel, ValidationError
from tornado import httputil
from tornado.httputil import HTTPServerRequest
from tornado.web import Application, HTTPError, RequestHandler

from gale_service import json_codec
from gale_service.auth.principal import Principal
from gale_service.auth.request import authenticate, unauthorized, uses_bearer
from gale_service.auth.sessions import session_cookie_name
from gale_service.intake import declared_length
from gale_service.problems import PROBLEM_JSON, Problem, problem_for_status
from gale_service.security.client_ip import client_ip
from gale_service.security.headers import content_security_policy, new_nonce, security_headers
from gale_service.services import Services, services_of
from gale_service.store import StoreUnavailable

ModelT = TypeVar("ModelT", bound=BaseModel)
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
RETRY_AFTER_SECONDS = "2"
SERVER_HEADER = f"TornadoServer/{tornado.version}"


class _HttpDate:
    """The ``Date`` header value (RFC 9110 IMF-fixdate), formatted once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._value = ""

    def __call__(self) -> str:
        second = int(time.time())
        if second != self._second:
            self._value = httputil.format_timestamp(second)
            self._second = second
        return self._value


_http_date = _HttpDate()


def response_headers(*, tls: bool) -> dict[str, str]:
    """What every response starts with: Tornado's defaults (``Server``, ``Content-Type``,
    ``Date``) and the security headers, values already valid (see :meth:`ApiHandler.clear`)."""
    return {
        "Server": SERVER_HEADER,
        "Content-Type": "text/html; charset=UTF-8",
        "Date": _http_date(),
        **security_headers(tls=tls),
    }


def request_id(headers: httputil.HTTPHeaders) -> str:
    """The caller's ``X-Request-ID`` when it is a sane one (``REQUEST_ID``), else a new one."""
    incoming = headers.get("X-Request-ID", "")
    return incoming if REQUEST_ID.fullmatch(incoming) else os.urandom(16).hex()


def dump_json(value: Any) -> str:
    return json_codec.dumps(value)


#: ``Accept`` values up to this long are remembered (clients send a handful of distinct ones);
#: the bound keeps what a client can make the cache hold small.
ACCEPT_CACHE_CHARS = 256


def accepts(header: str, produces: tuple[str, ...]) -> bool:
    """Whether an ``Accept`` header admits one of the media types a handler produces."""
    if len(header) <= ACCEPT_CACHE_CHARS:
        return _accepts_remembered(header, produces)
    return _accepts(header, produces)


@functools.lru_cache(maxsize=256)
def _accepts_remembered(header: str, produces: tuple[str, ...]) -> bool:
    return _accepts(header, produces)


def _accepts(header: str, produces: tuple[str, ...]) -> bool:
    for part in header.split(","):
        media, _, params = part.strip().partition(";")
        media = media.strip().lower()
        # A qvalue is at most "1.000" (RFC 9110 §12.4.2); "[0-9.]+" let "1.2.3" reach float().
        quality = re.search(r"q=([0-9](?:\.[0-9]{0,3})?)", params)
        if quality and float(quality.group(1)) == 0:
            continue
        if media == "*/*" or media in produces:
            return True
        if media.endswith("/*") and any(p.startswith(media[:-1]) for p in produces):
            return True
    return False


def _field_path(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location) or "(body)"


class ApiHandler(RequestHandler):
    """JSON API conventions: every error is ``application/problem+json`` (RFC 9457)."""

    #: Media types this handler can answer with; ``Accept`` must admit one of them.
    produces: tuple[str, ...] = ("application/json", PROBLEM_JSON)

    def __init__(
        self,
        application: Application,
        request: HTTPServerRequest,
        *,
        route: str = "unmatched",
        exempt: bool = False,
        **kwargs: Any,
    ) -> None:
        """``route`` is the path template (``/api/v1/items/{item_id}``) used to name spans,
        metrics and log lines without unbounded cardinality; ``exempt`` routes (probes) skip
        admission (:meth:`admit_request`). Taken here rather than in ``initialize`` so each
        subclass's ``initialize`` declares just the dependencies of its own."""
        self.route = route
        self.exempt = exempt
        self.services: Services = services_of(application)
        self._counted = False
        super().__init__(application, request, **kwargs)

    def _enter(self) -> None:
        if not self._counted:
            self.services.inflight.enter()
            self._counted = True

    def _leave(self) -> None:
        if self._counted:
            self.services.inflight.leave()
            self._counted = False

    def on_finish(self) -> None:
        """The one place a request stops counting. Not when its client goes away: the
        handler still runs (and holds the database) until it finishes, and shutdown waits
        for exactly that before closing the database client."""
        self._leave()

    @property
    def max_body_bytes(self) -> int:
        return self.services.settings.max_body_bytes

    def clear(self) -> None:
        """Tornado's ``clear`` (the response reset to an empty 200), with its default headers
        and the security headers built in one step and ``Date`` formatted once a second: the
        same headers, a third of the cost (one ``HTTPHeaders`` construction instead of ten
        validated ``set_header`` calls). Security headers are on every response, errors
        included, since ``send_error`` clears through here too. The policy has no nonce until
        something asks for :attr:`csp_nonce`."""
        self._csp_nonce: str | None = None
        self._headers = httputil.HTTPHeaders(response_headers(tls=self.request.protocol == "https"))
        self.set_default_headers()
        self._write_buffer = []
        self._status_code = 200
        self._reason = responses[200]

    @property
    def csp_nonce(self) -> str:
        """This response's CSP nonce, drawn when a page first needs it (for its ``<script>``
        tags); from then on the response's policy admits inline code carrying it."""
        if self._csp_nonce is None:
            self._csp_nonce = new_nonce()
            self._headers["Content-Security-Policy"] = content_security_policy(self._csp_nonce)
        return self._csp_nonce

    def get_current_user(self) -> Principal | None:
        """Anonymous until :meth:`prepare` has authenticated the caller (revocation is checked
        asynchronously there); an error page rendered before that shows no one signed in."""
        return None

    async def authenticate(self) -> Principal | None:
        return await authenticate(self, self.services.auth)

    def require_user(self) -> Principal:
        """The caller, or 401 with a ``WWW-Authenticate`` challenge."""
        principal: Principal | None = self.current_user
        if principal is None:
            raise unauthorized("authentication required", error=None)
        return principal

    def check_xsrf_cookie(self) -> None:
        """CSRF protection for cookie-authenticated requests only.

        CSRF abuses an *ambient* credential: one the browser attaches by itself to a request a
        hostile page triggers. Cookies are ambient; an ``Authorization: Bearer`` header never is
        (a page can only send it cross-origin after a CORS preflight, which this service does not
        grant), so bearer requests are exempt, as are requests carrying no session cookie at
        all (they are anonymous and get a 401 where a user is needed).
        """
        if uses_bearer(self):
            return
        secure = self.services.auth.secure_cookies
        if self.get_cookie(session_cookie_name(secure=secure)) is None:
            return
        self.check_xsrf_token()

    def check_xsrf_token(self) -> None:
        """Tornado's check, with a refusal that says what to send: the token from the XSRF
        cookie, echoed in the ``X-XSRFToken`` header or the ``_xsrf`` form field."""
        try:
            RequestHandler.check_xsrf_cookie(self)
        except HTTPError:
            cookie = self.settings.get("xsrf_cookie_name", "_xsrf")
            sent = self.get_argument("_xsrf", None) or self.request.headers.get("X-Xsrftoken")
            have = self.get_cookie(cookie) is not None
            why = (
                "no XSRF token was sent"
                if not sent
                else f"the XSRF token does not match the {cookie} cookie"
                if have
                else f"the {cookie} cookie is missing"
            )
            raise Problem(
                403,
                f"{why}: send the value of the {cookie!r} cookie in the X-XSRFToken header "
                "or the _xsrf form field (or authenticate with a bearer token instead)",
                slug="xsrf-failed",
            ) from None

    async def admit_request(self) -> None:
        """Host allow-list, load shedding, authentication, then per-IP and per-user limits
        (:meth:`prepare` skips it for ``exempt`` routes)."""
        services = self.services
        guard = services.guard
        guard.check_host(self.request.host)
        guard.check_load(services.inflight.count)
        principal = await self.authenticate()
        self.current_user = principal
        ip = client_ip(self.request, trusted=guard.trusted_proxies)
        headers = guard.check_rate(guard.per_ip, ip)
        if principal is not None:
            headers = guard.check_rate(guard.per_user, principal.username)
        for name, value in headers.items():
            self.set_header(name, value)

    def compute_etag(self) -> str | None:
        """Document ETags come from the stored version, not from hashing the body."""
        return None

    async def prepare(self) -> None:
        self.request_id = request_id(self.request.headers)
        self._headers["X-Request-ID"] = self.request_id  # REQUEST_ID's characters, or hex
        # Admission first: the intake still counts this request once, so the shedding check
        # sees it exactly once; the handler's own count takes over afterwards. (Exempt
        # routes skip it here, without creating the coroutine.)
        if not self.exempt:
            await self.admit_request()
        self._enter()
        accept = self.request.headers.get("Accept")
        if accept and not accepts(accept, self.produces):
            raise Problem(
                406,
                f"this resource is only available as {self.produces[0]}, not {accept!r}",
                slug="not-acceptable",
            )
        declared = declared_length(self.request.headers)
        limit = self.max_body_bytes
        if (declared or 0) > limit or len(self.request.body) > limit:
            raise Problem(
                413,
                f"request body exceeds the limit of {limit} bytes",
                slug="body-too-large",
            )

    def write_json(self, value: Any, *, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(dump_json(value))

    def json_body(self, *, content_types: tuple[str, ...] = ("application/json",)) -> Any:
        """The decoded body: 415 for another media type, 400 for broken JSON."""
        media = self.request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media not in content_types:
            raise Problem(
                415,
                f"expected a body of type {' or '.join(content_types)}, "
                f"got {media or 'no Content-Type'}",
                slug="unsupported-media-type",
            )
        try:
            return json.loads(self.request.body or b"")
        except (ValueError, UnicodeDecodeError) as error:
            raise Problem(
                400, f"request body is not valid JSON: {error}", slug="bad-json"
            ) from None
        except RecursionError:
            raise Problem(
                400, "request body is nested too deeply to decode", slug="bad-json"
            ) from None

    def validated(self, model: type[ModelT], data: Any) -> ModelT:
        """Validate against ``model``; 422 lists every bad field at once."""
        try:
            return model.model_validate(data)
        except ValidationError as error:
            errors = [
                {"field": _field_path(item["loc"]), "message": item["msg"]}
                for item in error.errors()
            ]
            raise Problem(
                422,
                f"{len(errors)} field(s) failed validation",
                slug="validation-failed",
                errors=errors,
            ) from None

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """Expected problems and an unreachable database are answered, not stack-traced."""
        if isinstance(value, HTTPError | StoreUnavailable):
            return
        super().log_exception(typ, value, tb)

    def allowed_methods(self) -> list[str]:
        """The methods this handler implements, for the ``Allow`` header a 405 must carry."""
        return [
            method
            for method in self.SUPPORTED_METHODS
            if getattr(type(self), method.lower()) is not getattr(RequestHandler, method.lower())
        ]

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, StoreUnavailable):
            problem = Problem(
                503,
                "the database is unavailable; retry shortly",
                slug="database-unavailable",
                headers={"Retry-After": RETRY_AFTER_SECONDS},
            )
        elif isinstance(error, Problem):
            problem = error
        elif isinstance(error, HTTPError):
            problem = problem_for_status(error.status_code, detail=error.log_message)
        else:
            problem = problem_for_status(status_code)
        self.set_status(problem.status_code)
        if problem.status_code == 405:
            self.set_header("Allow", ", ".join(self.allowed_methods()))
        if getattr(self, "request_id", None):
            self.set_header("X-Request-ID", self.request_id)
        for name, value in problem.headers.items():
            self.set_header(name, value)
        self.set_header("Content-Type", f"{PROBLEM_JSON}; charset=UTF-8")
        self.finish(dump_json(problem.body(instance=self.request.path)))
