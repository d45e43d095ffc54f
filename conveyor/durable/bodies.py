"""Reading a fetched response body with a cap that holds while decompressing.

httpx decompresses a whole network chunk at once, so a small gzip "bomb" could expand to
gigabytes before a size check sees it. Here the raw bytes are decompressed with an output
limit, so at most ``limit`` bytes (plus one) are ever produced.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import httpx

ACCEPT_ENCODING = "gzip, deflate"  # the encodings read_capped can decode


class _Decoder(Protocol):
    def decompress(self, data: bytes, max_length: int = ...) -> bytes: ...


class _Deflate:
    """zlib-wrapped or raw deflate (servers send both as ``deflate``)."""

    def __init__(self) -> None:
        self._inner: _Decoder | None = None

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        if self._inner is None:
            try:
                inner = zlib.decompressobj(zlib.MAX_WBITS)
                out = inner.decompress(data, max_length)
            except zlib.error:
                inner = zlib.decompressobj(-zlib.MAX_WBITS)
                out = inner.decompress(data, max_length)
            self._inner = inner
            return out
        return self._inner.decompress(data, max_length)


def _decoder(encoding: str) -> _Decoder | None:
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return _Deflate()
    return None  # identity (or an encoding left as is)


async def read_capped(response: httpx.Response, limit: int) -> bytes:
    """At most ``limit`` bytes of the decoded body of a streamed ``response``."""
    import httpx

    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    decoder = _decoder(encoding)
    out = bytearray()
    try:
        async for raw in response.aiter_raw():
            if decoder is None:
                out += raw
            else:
                try:
                    out += decoder.decompress(raw, limit - len(out) + 1)
                except zlib.error:
                    break  # a corrupt stream: keep what was decoded
            if len(out) > limit:
                break
    except httpx.StreamConsumed:  # already read into memory (e.g. a mock transport)
        return response.content[:limit]
    return bytes(out[:limit])


__all__ = ["ACCEPT_ENCODING", "read_capped"]
