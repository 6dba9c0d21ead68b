"""``/api/v1/auth/token`` (password → short-lived JWT), ``/api/v1/auth/me``,
``/api/v1/auth/password``, the admin's ``/api/v1/users`` and revoking a user's sessions."""

from __future__ import annotations

from gale_service.auth.authenticator import Authenticator
from gale_service.auth.principal import Principal
from gale_service.executors import ExecutorBusy
from gale_service.handlers.base import ApiHandler
from gale_service.models import Credentials, NewUser, PasswordChange
from gale_service.problems import Problem
from gale_service.security.client_ip import client_ip
from gale_service.store.users import UserExists, public_user


class AuthHandler(ApiHandler):
    @property
    def authenticator(self) -> Authenticator:
        return self.services.auth

    def limit_login(self) -> None:
        """The strict login bucket, per client IP. Not per username: that would let anyone
        lock a user out by failing logins in their name."""
        guard = self.services.guard
        guard.check_rate(guard.login, client_ip(self.request, trusted=guard.trusted_proxies))

    async def hashed(self, password: str) -> str:
        try:
            return await self.authenticator.passwords.hash(password)
        except ExecutorBusy:
            raise busy() from None

    async def login(self, username: str, password: str) -> Principal:
        self.limit_login()
        try:
            principal = await self.authenticator.login(username, password)
        except ExecutorBusy:
            raise busy() from None
        if principal is None:
            raise Problem(
                401,
                "wrong username or password",
                slug="bad-credentials",
                headers={"WWW-Authenticate": 'Bearer realm="gale"'},
            )
        return principal

    def write_token(self, principal: Principal) -> None:
        self.set_header("Cache-Control", "no-store")
        self.write_json(
            {
                "access_token": self.authenticator.token_for(principal),
                "token_type": "Bearer",
                "expires_in": self.authenticator.tokens.ttl_seconds,
            }
        )


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
        self.write_token(await self.login(credentials.username, credentials.password))


class PasswordHandler(AuthHandler):
    async def post(self) -> None:
        """A new password ends every session and token of the user, this caller's included;
        the answer carries a fresh token."""
        username = self.require_user().username
        change = self.validated(PasswordChange, self.json_body())
        self.limit_login()
        try:
            if await self.authenticator.login(username, change.current_password) is None:
                raise Problem(403, "the current password is wrong", slug="bad-credentials")
            await self.authenticator.change_password(username, change.new_password)
            principal = await self.authenticator.login(username, change.new_password)
        except ExecutorBusy:
            raise busy() from None
        assert principal is not None
        self.write_token(principal)


class UserSessionsHandler(AuthHandler):
    async def delete(self, username: str) -> None:
        """Revoke all: every session and token of ``username`` stops working (an admin, or
        the user themself)."""
        principal = self.require_user()
        if not principal.is_admin and principal.username != username:
            raise Problem(403, "only an admin may revoke another user's sessions", slug="forbidden")
        if not await self.authenticator.revoke_all(username):
            raise Problem(404, f"no user {username!r}", slug="user-not-found")
        self.set_status(204)
        self.finish()


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
