"""The platform's browser pages (``/login``, ``/logout``, ``/language``) and the base every
page shares, resources' pages included.

Pages reuse the API's guard (Host allow-list, shedding, rate limits) and security headers,
but authenticate by the signed session cookie, always check the XSRF token on POST, and
answer errors as HTML in the caller's language.
"""

from __future__ import annotations

import traceback
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import tornado.locale
from tornado.web import HTTPError

from gale_service.auth.authenticator import Authenticator
from gale_service.auth.principal import Principal
from gale_service.auth.request import uses_bearer
from gale_service.auth.sessions import (
    cookie_options,
    encode_session,
    new_session_id,
    session_cookie_name,
)
from gale_service.executors import ExecutorBusy
from gale_service.handlers.base import RETRY_AFTER_SECONDS, ApiHandler
from gale_service.problems import Problem
from gale_service.security.client_ip import client_ip
from gale_service.store import StoreUnavailable

LOCALES = {"en": "en_US", "de": "de_DE"}


def safe_next(target: str | None) -> str:
    """Only local paths: an open redirect after login is a phishing tool."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    if any(ord(char) < 0x20 or char == "\x7f" for char in target):
        return "/"  # CR/LF would split the Location header; Tornado refuses it with a 500
    parts = urlsplit(target)
    return "/" if parts.scheme or parts.netloc or "\\" in target else target


class PageHandler(ApiHandler):
    produces = ("text/html",)

    @property
    def authenticator(self) -> Authenticator:
        return self.services.auth

    async def authenticate(self) -> Principal | None:
        """Pages are for browsers: a broken ``Authorization`` header just means anonymous."""
        try:
            return await super().authenticate()
        except Problem:
            return None

    def get_user_locale(self) -> tornado.locale.Locale | None:
        principal: Principal | None = self.current_user
        if principal is not None and principal.locale:
            return tornado.locale.get(principal.locale)
        return None

    def check_xsrf_cookie(self) -> None:
        """Forms are always cookie-based: every page POST (login included) needs the token."""
        self.check_xsrf_token()

    def get_template_namespace(self) -> dict[str, Any]:
        namespace = super().get_template_namespace()
        namespace["nonce"] = self.csp_nonce
        namespace["principal"] = self.current_user
        namespace["lang"] = self.locale.code.split("_")[0]
        return namespace

    def start_session(self, principal: Principal) -> None:
        secure = self.authenticator.secure_cookies
        self.set_signed_cookie(
            session_cookie_name(secure=secure),
            encode_session(principal),
            expires_days=self.authenticator.session_ttl_seconds / 86_400,
            **cookie_options(secure=secure),
        )

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Errors as a page in the caller's language. Refusals (HTTP errors) get a translated
        explanation; anything else is a bug, whose traceback dev shows on the page (a template
        error names the template and line) and production never does."""
        error = kwargs.get("exc_info", (None, None, None))[1]
        trace = None
        if isinstance(error, HTTPError):
            status_code = error.status_code
            for name, value in getattr(error, "headers", {}).items():
                self.set_header(name, value)
        elif isinstance(error, StoreUnavailable):
            status_code = 503
            self.set_header("Retry-After", RETRY_AFTER_SECONDS)
        elif error is not None and self.services.settings.is_dev:
            trace = "".join(traceback.format_exception(*kwargs["exc_info"]))
        self.set_status(status_code)
        self.render("error.html", status=status_code, trace=trace)


class LoginPage(PageHandler):
    def get(self) -> None:
        self.render("login.html", error=None, next=safe_next(self.get_query_argument("next", "/")))

    async def post(self) -> None:
        guard = self.services.guard
        guard.check_rate(guard.login, client_ip(self.request, trusted=guard.trusted_proxies))
        username = self.get_body_argument("username", "")[:64]
        password = self.get_body_argument("password", "")[:1024]
        target = safe_next(self.get_body_argument("next", "/"))
        try:
            principal = await self.authenticator.login(username, password)
        except ExecutorBusy:
            raise Problem(503, "busy", headers={"Retry-After": "1"}) from None
        if principal is None:
            self.set_status(401)
            self.render(
                "login.html",
                error=self.locale.translate("Wrong username or password."),
                next=target,
            )
            return
        self.start_session(replace(principal, session=new_session_id()))
        self.redirect(target, status=303)


class LogoutPage(PageHandler):
    async def post(self) -> None:
        """Ends the session on the server too: a copy of the cookie stops working."""
        principal: Principal | None = self.current_user
        if principal is not None and not uses_bearer(self):
            await self.authenticator.end_session(principal)
        self.clear_cookie(session_cookie_name(secure=self.authenticator.secure_cookies), path="/")
        self.redirect(self.reverse_url("login"), status=303)


class LanguagePage(PageHandler):
    """Stores the user's language preference; it then beats ``Accept-Language``."""

    async def post(self) -> None:
        principal: Principal = self.require_user()
        choice = self.get_body_argument("lang", "")
        locale = LOCALES.get(choice)
        await self.authenticator.users.set_locale(principal.username, locale)
        self.start_session(replace(principal, locale=locale))
        self.redirect(safe_next(self.get_body_argument("next", "/")), status=303)
