"""conveyor.redaction: one list of secret names, URL secrets, bounded depth."""

from __future__ import annotations

import gzip
import zlib
from typing import Any

import httpx
import pytest

from conveyor.durable import fetch
from conveyor.durable.bodies import read_capped
from conveyor.redaction import (
    MAX_DEPTH,
    REDACTED,
    is_secret_name,
    printable,
    redact,
    redact_headers,
    redact_text,
)


@pytest.mark.parametrize("name", [
    "Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "password", "db_passwd",
    "X-Api-Key", "api_key", "apiKey", "AWS_SECRET_ACCESS_KEY", "client_secret",
    "x-github-token", "refresh_token", "session_id", "X-Hub-Signature", "private-key",
    "credentials", "x-auth", "pwd", "passphrase",
])
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["author", "key", "url", "name", "X-Trace", "Accept",
                                  "keyboard", "monkey", "authority_level", "user"])
def test_ordinary_names(name: str) -> None:
    assert not is_secret_name(name)


def test_the_fetch_step_uses_the_same_list() -> None:
    headers = {"Authorization": "a", "X-Api-Key": "b", "author": "c", "Cookie": "d"}
    assert fetch.redact(headers) == redact_headers(headers) == {
        "Authorization": REDACTED, "X-Api-Key": REDACTED, "author": "c", "Cookie": REDACTED}
    assert all(fetch.is_secret(n) == is_secret_name(n) for n in headers)


@pytest.mark.parametrize("text, expected", [
    ("postgresql://bob:hunter2@db/x", f"postgresql://bob:{REDACTED}@db/x"),
    ("see https://h/p?api_key=abc&page=2", f"see https://h/p?api_key={REDACTED}&page=2"),
    ("https://h/?token=t1#frag", f"https://h/?token={REDACTED}#frag"),
    ("redis://:pw@cache:6379/0", f"redis://:{REDACTED}@cache:6379/0"),
    ("https://h/?q=1&access_token=z", f"https://h/?q=1&access_token={REDACTED}"),
    ("no secrets: https://h/?page=1 user@example.com", "no secrets: https://h/?page=1 "
                                                         "user@example.com"),
])
def test_secrets_in_urls_are_redacted(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_redact_masks_values_under_secret_names_at_any_depth() -> None:
    value = {"user": "ann", "password": "hunter2", "nested": [{"api_key": "k", "n": 1}],
             "empty_token": "", "url": "http://u:pw@h/", "header": {"value": "v", "secret": True}}
    assert redact(value, hidden=["ann"]) == {
        "user": REDACTED, "password": REDACTED, "nested": [{"api_key": REDACTED, "n": 1}],
        "empty_token": "", "url": f"http://u:{REDACTED}@h/",
        "header": {"value": REDACTED, "secret": True},
    }


def test_redact_never_recurses_without_bound_and_makes_text_printable() -> None:
    deep: Any = "bottom"
    for _ in range(100_000):
        deep = [deep]
    shown = redact(deep)
    for _ in range(MAX_DEPTH):
        shown = shown[0]
    assert shown == "[nested too deep to show]"
    assert printable("a\udc80b\ud800") == "a\ufffdb\ufffd"
    assert redact({"k\udcff": "v\ud800"}) == {"k\ufffd": "v\ufffd"}


def _streamed(body: bytes, encoding: str) -> httpx.Response:
    return httpx.Response(200, headers={"content-encoding": encoding},
                          stream=httpx.ByteStream(body))


@pytest.mark.parametrize("encoding, compress", [
    ("gzip", gzip.compress),
    ("deflate", zlib.compress),
    ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate
    ("identity", lambda data: data),
])
async def test_a_fetched_body_is_capped_while_decompressing(encoding: str, compress: Any) -> None:
    bomb = compress(b"\0" * 10_000_000)  # 10 MB once inflated, ~10 kB on the wire
    body = await read_capped(_streamed(bomb, encoding), 1000)
    assert body == b"\0" * 1000
    small = await read_capped(_streamed(compress(b"hello"), encoding), 1000)
    assert small == b"hello"
