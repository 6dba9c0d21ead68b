"""Everything authentication needs, built once at start-up (``services.authenticator``
builds it from the settings, which sit above this package)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from gale_service.auth.keys import KeySet
from gale_service.auth.passwords import PasswordHasher
from gale_service.auth.principal import Principal
from gale_service.auth.revocation import Revocations
from gale_service.auth.token_cache import VerifiedTokens
from gale_service.auth.tokens import TokenPolicy, issue_token
from gale_service.store.users import UserExists, UserStore

log = logging.getLogger(__name__)


@dataclass
class Authenticator:
    tokens: TokenPolicy
    cookie_secrets: KeySet
    passwords: PasswordHasher
    users: UserStore
    secure_cookies: bool
    session_ttl_seconds: int
    revocations: Revocations
    verified_tokens: VerifiedTokens = field(default_factory=VerifiedTokens)

    async def login(self, username: str, password: str) -> Principal | None:
        """The principal for a correct username and password, else ``None``."""
        user = await self.users.get(username)
        stored = user.get("password_hash") if user else None
        if not await self.passwords.verify(stored, password) or user is None:
            return None
        locale = user.get("locale")
        return Principal(
            username=username,
            is_admin=bool(user.get("is_admin")),
            locale=locale if isinstance(locale, str) else None,
            generation=int(user.get("generation") or 0),
        )

    async def end_session(self, principal: Principal) -> None:
        """Logout: end this browser session (every session, for one from before session ids)."""
        if principal.session is None:
            await self.users.revoke_all(principal.username)
        else:
            until = time.time() + self.session_ttl_seconds
            await self.users.end_session(principal.username, principal.session, until=until)
        self.revocations.forget(principal.username)

    async def revoke_all(self, username: str) -> bool:
        """End every session and token of ``username``; whether the user exists."""
        found = await self.users.revoke_all(username)
        self.revocations.forget(username)
        return found

    async def change_password(self, username: str, password: str) -> None:
        """Set a new password; every credential issued before it is revoked."""
        user = await self.users.get(username)
        await self.users.set_password(
            username,
            password_hash=await self.passwords.hash(password),
            is_admin=bool(user and user.get("is_admin")),
        )
        self.revocations.forget(username)

    def token_for(self, principal: Principal) -> str:
        return issue_token(principal, policy=self.tokens)

    async def bootstrap_admin(
        self, *, username: str, password: str | None, announce: bool = False
    ) -> None:
        """Make sure the configured admin exists with the configured password.

        The secret is the source of truth: rotating it in the Secret and restarting resets
        the stored hash, which is how a lost admin password is recovered. With ``announce``
        (dev only) the credentials are logged once, when the admin is first created, so a
        developer running ``make run`` can sign in; production never logs a password.
        """
        if password is None:
            log.warning("no admin password configured; no admin user bootstrapped")
            return
        for _ in range(2):
            user = await self.users.get(username)
            if (
                user is not None
                and user.get("is_admin")
                and await self.passwords.verify(user.get("password_hash"), password)
            ):
                return
            password_hash = await self.passwords.hash(password)
            if user is not None:
                await self.users.set_password(username, password_hash=password_hash, is_admin=True)
                break
            try:
                await self.users.create(username, password_hash=password_hash, is_admin=True)
            except UserExists:
                # Another replica or worker bootstrapped it meanwhile, from the same secret:
                # check that one again rather than reset it (a reset revokes its credentials).
                continue
            if announce:
                log.warning(
                    f"dev admin created: sign in as {username!r} with password {password}",
                    extra={"username": username},
                )
            break
        self.revocations.forget(username)
        log.info("admin bootstrapped", extra={"username": username})
