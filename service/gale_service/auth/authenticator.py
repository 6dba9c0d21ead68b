"""Everything authentication needs, built once from the settings at start-up."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from gale_service.auth.keys import KeySet, parse_key_set
from gale_service.auth.passwords import PasswordHasher
from gale_service.auth.principal import Principal
from gale_service.auth.token_cache import VerifiedTokens
from gale_service.auth.tokens import TokenPolicy, issue_token
from gale_service.executors import Executors
from gale_service.settings import Environment, Settings, SettingsError
from gale_service.store.users import UserStore

log = logging.getLogger(__name__)


def _key_set(settings: Settings, name: str, *, numeric_ids: bool) -> KeySet:
    value = getattr(settings, name)
    if value is None:
        raise SettingsError(f"GALE_{name.upper()}: required (id:secret pairs, newest first)")
    return parse_key_set(value.get_secret_value(), numeric_ids=numeric_ids)


@dataclass
class Authenticator:
    tokens: TokenPolicy
    cookie_secrets: KeySet
    passwords: PasswordHasher
    users: UserStore
    secure_cookies: bool
    session_ttl_seconds: int
    verified_tokens: VerifiedTokens = field(default_factory=VerifiedTokens)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, users: UserStore, executors: Executors
    ) -> Authenticator:
        secure = settings.secure_cookies
        if secure is None:
            secure = settings.env is Environment.PRODUCTION
        return cls(
            tokens=TokenPolicy(
                keys=_key_set(settings, "jwt_keys", numeric_ids=False),
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                ttl_seconds=settings.jwt_ttl_seconds,
            ),
            cookie_secrets=_key_set(settings, "cookie_secrets", numeric_ids=True),
            passwords=PasswordHasher(
                executors.blocking,
                time_cost=settings.argon2_time_cost,
                memory_kib=settings.argon2_memory_kib,
                parallelism=settings.argon2_parallelism,
            ),
            users=users,
            secure_cookies=secure,
            session_ttl_seconds=settings.session_ttl_seconds,
        )

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
        )

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
        user = await self.users.get(username)
        if user is None and announce:
            log.warning(
                f"dev admin created: sign in as {username!r} with password {password}",
                extra={"username": username},
            )
        if (
            user is not None
            and user.get("is_admin")
            and await self.passwords.verify(user.get("password_hash"), password)
        ):
            return
        await self.users.set_password(
            username, password_hash=await self.passwords.hash(password), is_admin=True
        )
        log.info("admin bootstrapped", extra={"username": username})
