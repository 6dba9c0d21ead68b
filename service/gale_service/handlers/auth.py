"""``/api/v1/auth/token`` (password → short-lived JWT), ``/api/v1/auth/me`` and the admin's
``/api/v1/users``."""

from __future__ import annotations

from gale_service.auth.authenticator import Authenticator
from gale_service.auth.principal import Principal
from gale_service.executors import ExecutorBusy
from gale_service.handlers.base import ApiHandler
from gale_service.models import Credentials, NewUser
from gale_service.problems import Problem
from gale_service.security.client_ip import client_ip
from gale_service.store.users import UserExists, public_user


class AuthHandler(ApiHandler):
    @property
    def authenticator(self) -> Authenticator:
        authenticator: Authenticator = self.application.settings["services"].auth
        return authenticator

    def limit_login(self) -> None:
        """The strict login bucket, per client IP. Not per username: that would let anyone
        lock a user out by failing logins in their name."""
        guard = self.application.settings["services"].guard
        guard.check_rate(guard.login, client_ip(self.request, trusted=guard.trusted_proxies))

    async def hashed(self, password: str) -> str:
        try:
            return await self.authenticator.passwords.hash(password)
        except ExecutorBusy:
            raise busy() from None


def busy() -> Problem:
    return Problem(
        503,
        "too many password checks queued; retry shortly",
        slug="overloaded",
        headers={"Retry-After": "1"},
    )


class TokenHandler(AuthHandler):
    async def post(self) -> None:
        credentials = self.validated(Credentials, self.json_body())
        self.limit_login()
        try:
            principal = await self.authenticator.login(credentials.username, credentials.password)
        except ExecutorBusy:
            raise busy() from None
        if principal is None:
            raise Problem(
                401,
                "wrong username or password",
                slug="bad-credentials",
                headers={"WWW-Authenticate": 'Bearer realm="gale"'},
            )
        self.set_header("Cache-Control", "no-store")
        self.write_json(
            {
                "access_token": self.authenticator.token_for(principal),
                "token_type": "Bearer",
                "expires_in": self.authenticator.tokens.ttl_seconds,
            }
        )


class MeHandler(AuthHandler):
    def get(self) -> None:
        principal: Principal = self.require_user()
        self.write_json(
            {
                "username": principal.username,
                "is_admin": principal.is_admin,
                "locale": principal.locale,
            }
        )


class UserCollectionHandler(AuthHandler):
    async def post(self) -> None:
        """Admins create users; anyone else gets 403 (the endpoint is public knowledge)."""
        if not self.require_user().is_admin:
            raise Problem(403, "only an admin may create users", slug="forbidden")
        new = self.validated(NewUser, self.json_body())
        try:
            user = await self.authenticator.users.create(
                new.username, password_hash=await self.hashed(new.password), is_admin=new.is_admin
            )
        except UserExists:
            raise Problem(409, f"user {new.username!r} exists", slug="user-exists") from None
        self.write_json(public_user(user), status=201)
