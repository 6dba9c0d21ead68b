"""Property tests (hypothesis) of the parsers that see raw input: each either accepts a
value or refuses it with its own error, whatever the bytes; what the service writes, it
reads back. The live part sends generated header values to a running service."""

from __future__ import annotations

import base64
import contextlib
import json
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
from bson import ObjectId
from gale_service.auth.keys import parse_key_set
from gale_service.auth.principal import Principal
from gale_service.auth.request import parse_authorization, verify_session_cookie
from gale_service.auth.sessions import decode_session, encode_session
from gale_service.auth.tokens import InvalidToken, TokenPolicy, issue_token, verify_token
from gale_service.bulk import parse_lines
from gale_service.handlers.base import _accepts, accepts
from gale_service.handlers.conditional import expected_version, not_modified
from gale_service.handlers.pages import safe_next
from gale_service.head_limits import HEAD_END, bounded_head
from gale_service.problems import Problem
from gale_service.resources.items.models import ItemImport
from gale_service.store.cursors import InvalidCursor, decode_cursor, encode_cursor
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tornado.web import create_signed_value

from tests.mongo import SecantusServer
from tests.service.harness import LiveService, live_service
from tests.service.raw_http import exchange, request_bytes

KEYS = parse_key_set("k1:" + "k" * 40 + " k0:" + "o" * 40)
POLICY = TokenPolicy(keys=KEYS, issuer="gale", audience="gale-api", ttl_seconds=900)
COOKIE_SECRETS = parse_key_set("2:" + "c" * 40 + " 1:" + "d" * 40, numeric_ids=True)
COOKIE = "gale_session"

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
#: What can arrive in a header value: Tornado decodes headers as latin-1.
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=300)


def assert_refused(problem: Problem, statuses: set[int]) -> None:
    assert problem.status_code in statuses, problem.detail


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# Bearer tokens ---------------------------------------------------------------------------


@given(st.text(max_size=400))
@example("eyJhbGciOiJIUzI1NiIsImtpZCI6NX0.e30.c2ln")  # kid 5
def test_any_text_as_a_token_is_refused_with_invalid_token(token: str) -> None:
    with pytest.raises(InvalidToken):
        verify_token(token, policy=POLICY)


@given(
    header=st.dictionaries(
        st.sampled_from(["alg", "kid", "crit", "typ", "b64"]) | st.text(max_size=4), json_values
    ),
    payload=json_values,
    signature=st.binary(max_size=48),
)
@example(header={"alg": "HS256", "kid": "k1", "crit": ["zz"]}, payload={}, signature=b"")
@example(header={"alg": 5}, payload={}, signature=b"")
def test_forged_tokens_of_any_shape_are_refused(
    header: dict[str, Any], payload: Any, signature: bytes
) -> None:
    token = ".".join(
        (b64(json.dumps(header).encode()), b64(json.dumps(payload).encode()), b64(signature))
    )
    with pytest.raises(InvalidToken):
        verify_token(token, policy=POLICY)


@given(
    claims=st.dictionaries(
        st.sampled_from(["sub", "role", "gen", "locale", "exp", "nbf", "iat", "iss", "aud", "jti"]),
        json_values,
    ),
    extra=st.dictionaries(st.sampled_from(["crit", "typ", "cty", "b64", "x5u"]), json_values),
)
def test_correctly_signed_tokens_with_any_claims_verify_or_are_refused(
    claims: dict[str, Any], extra: dict[str, Any]
) -> None:
    """Signed with the right key, so every claim check past the signature is exercised."""
    try:
        token = jwt.encode(
            claims, KEYS.current_secret, algorithm="HS256", headers={"kid": "k1", **extra}
        )
    except (TypeError, ValueError, jwt.PyJWTError):
        return  # PyJWT will not even write this one
    try:
        principal = verify_token(token, policy=POLICY)
    except InvalidToken:
        return
    assert isinstance(principal.username, str)
    assert principal.username
    assert isinstance(principal.generation, int)


@given(
    username=st.text(st.characters(codec="utf-8"), min_size=1, max_size=64),
    is_admin=st.booleans(),
    generation=st.integers(min_value=0, max_value=2**31),
)
def test_issued_tokens_verify_to_the_same_principal(
    username: str, is_admin: bool, generation: int
) -> None:
    principal = Principal(username=username, is_admin=is_admin, generation=generation)
    assert verify_token(issue_token(principal, policy=POLICY), policy=POLICY) == principal


@given(header_text)
def test_any_authorization_header_is_a_token_or_a_401(header: str) -> None:
    try:
        token = parse_authorization(header)
    except Problem as problem:
        refused = problem.status_code
    else:
        refused = None
    if refused is not None:
        assert refused == 401
        return
    assert token is not None
    assert token
    assert token == token.strip()


# Session cookies --------------------------------------------------------------------------


@given(header_text)
@example("x")
@example("2|1:0|10:1|x")
@example("2|1:9|10:1700000000|12:gale_session|4:e30=|00")
def test_any_cookie_value_is_refused_unless_signed(value: str) -> None:
    assert verify_session_cookie(value, COOKIE, secrets=COOKIE_SECRETS, ttl_seconds=3600) is None


@given(st.binary(max_size=300))
@example(b"[" * 5000)
@example(b'{"u": "x", "g": "7", "s": 5, "a": "yes"}')
def test_any_verified_payload_is_a_principal_or_anonymous(payload: bytes) -> None:
    principal = decode_session(payload)
    assert principal is None or (isinstance(principal, Principal) and principal.username)


@given(
    username=st.text(min_size=1, max_size=64),
    locale=st.none() | st.sampled_from(["de_DE", "en_US"]),
    generation=st.integers(min_value=0, max_value=2**31),
    session=st.none() | st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=16),
)
def test_signed_sessions_read_back_as_written(
    username: str, locale: str | None, generation: int, session: str | None
) -> None:
    principal = Principal(username=username, locale=locale, generation=generation, session=session)
    value = create_signed_value(
        COOKIE_SECRETS.as_cookie_secrets(), COOKIE, encode_session(principal), key_version=2
    ).decode()
    payload = verify_session_cookie(value, COOKIE, secrets=COOKIE_SECRETS, ttl_seconds=3600)
    assert decode_session(payload) == principal


# Listing cursors --------------------------------------------------------------------------


@given(st.text(max_size=200), st.none() | st.text(max_size=10))
@example(b64(b"[1]"), None)
@example(b64(b'"a"'), None)
@example(b64(b'{"a": {"$gt": 1}}'), None)
def test_any_cursor_is_an_object_id_or_invalid(cursor: str, tag: str | None) -> None:
    with contextlib.suppress(InvalidCursor):
        assert isinstance(decode_cursor(cursor, tag=tag), ObjectId)


@given(st.builds(lambda value: b64(json.dumps(value).encode()), json_values))
def test_any_encoded_json_as_a_cursor_is_an_object_id_or_invalid(cursor: str) -> None:
    with contextlib.suppress(InvalidCursor):
        decode_cursor(cursor, tag=None)


@given(st.binary(min_size=12, max_size=12), st.none() | st.text(max_size=32))
def test_issued_cursors_read_back(raw: bytes, tag: str | None) -> None:
    after = ObjectId(raw)
    assert decode_cursor(encode_cursor(after=str(after), tag=tag), tag=tag) == after


# Conditional requests ---------------------------------------------------------------------


@given(header_text)
@example('"' + "9" * 5000 + '"')
@example('W/"1", "2"')
def test_any_if_match_is_a_version_or_a_4xx(header: str) -> None:
    try:
        version = expected_version(header)
    except Problem as problem:
        assert_refused(problem, {400, 412})
        return
    assert version is None or version >= 0


@given(st.integers(min_value=1, max_value=10**18 - 1))
def test_if_match_reads_back_the_etag_it_was_given(version: int) -> None:
    assert expected_version(f'"{version}"') == version
    with pytest.raises(Problem):
        expected_version(f'W/"{version}"')


@given(header_text, st.integers(min_value=1, max_value=10**6))
def test_any_if_none_match_is_a_yes_or_no(header: str, version: int) -> None:
    assert not_modified(header, f'"{version}"') in {True, False}
    assert not_modified(f'{header}, "{version}"', f'"{version}"')


# Content negotiation and redirects --------------------------------------------------------


@given(header_text)
@example("text/html;q=1.2.3")
@example("*/*;q=")
def test_any_accept_header_is_a_yes_or_no(header: str) -> None:
    assert accepts(header, ("application/json", "application/problem+json")) in {True, False}


@given(header_text, st.integers(min_value=0, max_value=300))
def test_remembered_and_long_accept_headers_are_judged_alike(header: str, padding: int) -> None:
    """Short values come from a cache, long ones are parsed each time: the same answers."""
    produces = ("application/json", "application/problem+json")
    padded = header + ", x/y" * padding
    assert accepts(padded, produces) == _accepts(padded, produces)
    assert accepts(header, produces) == _accepts(header, produces)


@given(st.text(max_size=200))
@example("/\r\nSet-Cookie: x=y")
@example("/[")
def test_after_login_the_redirect_is_always_a_local_path(target: str) -> None:
    result = safe_next(target)
    assert result.startswith("/")
    assert not result.startswith("//")
    assert not urlsplit(result).netloc
    assert all(ord(char) >= 0x20 for char in result)


# NDJSON import lines ----------------------------------------------------------------------


@given(st.binary(max_size=2000))
@example(b'{"name": "a"}\n' + b"[" * 100_000)
@example(b'{"name": "\xff"}')
def test_any_import_body_is_parsed_or_reported_line_by_line(body: bytes) -> None:
    parsed = parse_lines(body, ItemImport)
    assert parsed.documents or parsed.broken or parsed.invalid
    assert len(parsed.documents) == len(parsed.lines)


@given(st.lists(json_values, min_size=1, max_size=20))
def test_any_json_lines_are_items_or_listed_problems(values: list[Any]) -> None:
    parsed = parse_lines("\n".join(json.dumps(value) for value in values).encode(), ItemImport)
    assert not parsed.broken
    assert len(parsed.documents) + len({e["field"].split(".")[0] for e in parsed.invalid}) >= 1


items = st.fixed_dictionaries(
    {"name": st.text(min_size=1, max_size=200)},
    optional={
        "description": st.text(max_size=100),
        "tags": st.lists(st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,31}\Z"), max_size=20),
    },
)


@given(st.lists(items, min_size=1, max_size=30))
def test_valid_lines_are_imported_as_written(documents: list[dict[str, Any]]) -> None:
    body = "\n".join(json.dumps(document) for document in documents).encode()
    parsed = parse_lines(body, ItemImport)
    assert not parsed.broken
    assert not parsed.invalid
    assert parsed.documents == [{"description": "", "tags": [], **d} for d in documents]


# The same parsers behind a running service ------------------------------------------------


@pytest.fixture
async def live(mongo_server: SecantusServer) -> AsyncIterator[LiveService]:
    async with live_service(mongo_server.uri, driver="pymongo") as service:
        yield service


HEADERS = ["Accept-Language", "Accept", "If-None-Match", "If-Match", "Cookie", "Authorization"]
TARGETS = [
    ("GET", "/"),
    ("GET", "/login"),
    ("GET", "/api/v1/items?limit=5"),
    ("GET", "/api/v1/items/000000000000000000000000"),
    ("DELETE", "/api/v1/items/000000000000000000000000"),
]


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    name=st.sampled_from(HEADERS),
    value=st.text(st.characters(min_codepoint=0x21, max_codepoint=0xFF), max_size=2000),
    target=st.sampled_from(TARGETS),
    signed_in=st.booleans(),
)
async def test_any_header_value_gets_an_answer_below_500(
    live: LiveService, name: str, value: str, target: tuple[str, str], signed_in: bool
) -> None:
    method, path = target
    headers: list[tuple[str, bytes | str]] = [(name, value)]
    if signed_in and name != "Authorization":
        headers.append(("Authorization", f"Bearer {live.token}"))
    port = int(live.base_url.rsplit(":", 1)[1])
    response = await exchange(port, request_bytes(method, path, headers=headers))
    assert response.status < 500, (response.status, response.body[:300])
    if path.startswith("/api/") and response.status >= 400:
        assert response.content_type.startswith("application/problem+json")


# The bounded request-head read (head_limits) ----------------------------------------------


@given(
    st.binary(max_size=300)
    | st.lists(
        st.sampled_from([b"a", b"\r", b"\n", b"\r\n", b"GET / HTTP/1.1", b": "]), max_size=80
    ).map(b"".join),
    st.integers(min_value=1, max_value=120),
)
@example(b"a" * 61 + b"\r\n\r\n" + b"b" * 50, 64)
@example(b"\r\n\r\nGET", 64)
def test_the_bounded_head_read_ends_where_tornados_would_or_past_the_limit(
    buffer: bytes, limit: int
) -> None:
    """Where Tornado's own read (``HEAD_END`` within ``limit`` bytes) succeeds, the bounded
    pattern returns exactly the same head; where Tornado would give up, it returns more than
    ``limit`` bytes (so the server answers 414/431); with too little data, it waits."""
    bounded = re.compile(bounded_head(limit)).search(buffer)
    tornado = re.compile(HEAD_END).search(buffer)
    if tornado is not None and tornado.end() <= limit:
        assert bounded is not None
        assert bounded.end() == tornado.end()
    elif len(buffer) > limit:
        assert bounded is not None
        assert bounded.end() > limit
    else:
        assert bounded is None or bounded.end() == (tornado.end() if tornado else -1)
