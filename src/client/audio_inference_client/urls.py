"""Which URLs the client will use, decided by the parser the connection uses.

A URL an answer names (a job's `status_url`, its upload form's `url`, the result and MIDI links, a
redirect's `Location`) is read with urllib3's `parse_url`, which is what `requests` prepares the
request with, and the origin it connects to is taken from that reading. What two parsers could read
differently is refused outright, whichever reading would be the harmless one: a backslash (urllib3
starts the path there, `urllib.parse` does not), userinfo (`user@`), whitespace, control or non-ASCII
characters, a host that is not plain letters, digits, dots and hyphens (or a bracketed IPv6 address),
and any disagreement between `parse_url` and `urlsplit` on the scheme, host or port. Only http and
https are used, and plain http only on loopback for anything the service's storage serves.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from audio_inference_client.errors import printable

MAX_URL_CHARS = 16_384
"""Presigned URLs run to a few kB; anything far longer is not one."""

_PRINTABLE_ASCII = re.compile(r"^[\x21-\x7e]+$")
_HOST_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$")
_IPV6 = re.compile(r"^\[[0-9a-f:.]+\]$")
DEFAULT_PORTS = {"http": 80, "https": 443}


class UnsafeUrl(ValueError):
    """A URL the client will not use; the message says why, never the URL's query (signatures)."""


@dataclass(frozen=True)
class Origin:
    """Where a connection goes: scheme, host (lower case; IPv6 in brackets) and explicit port."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


def is_loopback(host: str) -> bool:
    """localhost or a loopback address: plain http cannot be read by anyone else there."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def checked(url: object) -> Origin:
    """The origin `url` connects to, or UnsafeUrl if it is not one the client will use at all."""
    if not isinstance(url, str) or not url:
        raise UnsafeUrl(f"not a URL: {printable(url, 60)}")
    if len(url) > MAX_URL_CHARS:
        raise UnsafeUrl(f"a URL of {len(url)} characters (at most {MAX_URL_CHARS})")
    if not _PRINTABLE_ASCII.match(url):
        raise UnsafeUrl(f"a URL with whitespace, control or non-ASCII characters: {where(url)}")
    if "\\" in url:
        raise UnsafeUrl(f"a URL with a backslash, which parsers read differently: {where(url)}")
    try:
        parsed = parse_url(url)
        split = urlsplit(url)
        split_port = split.port
    except (LocationParseError, ValueError):
        raise UnsafeUrl(f"a URL that does not parse: {where(url)}") from None
    scheme = (parsed.scheme or "").lower()
    if scheme not in DEFAULT_PORTS:
        raise UnsafeUrl(f"a {scheme or 'relative'} URL, not http or https: {where(url)}")
    if parsed.auth is not None or "@" in split.netloc:
        raise UnsafeUrl(f"a URL with user information (user@host), which parsers read differently: {where(url)}")
    host = (parsed.host or "").lower()
    if not (_HOST_NAME.match(host) or _IPV6.match(host)):
        raise UnsafeUrl(f"a URL whose host is not a plain name or address: {where(url)}")
    port = parsed.port if parsed.port is not None else DEFAULT_PORTS[scheme]
    split_host = (split.hostname or "").lower()
    split_host = f"[{split_host}]" if ":" in split_host else split_host
    split_port = split_port if split_port is not None else DEFAULT_PORTS[scheme]
    if (split.scheme.lower(), split_host, split_port) != (scheme, host, port):
        raise UnsafeUrl(f"a URL that parsers read differently: {where(url)}")
    if not 0 < port < 65536:
        raise UnsafeUrl(f"a URL with port {port}: {where(url)}")
    return Origin(scheme, host, port)


def storage_link(url: object) -> Origin:
    """A link to the service's storage (presigned upload form, result, MIDI, where one redirects):
    https, or plain http on loopback (`make serve`)."""
    target = checked(url)
    if target.scheme != "https" and not target.loopback:
        raise UnsafeUrl(f"a plain http link to another machine (https only, http on loopback): {target}")
    return target


def where(url: str) -> str:
    """The URL up to its path, for messages: a presigned URL's query is a signature."""
    head = re.split(r"[/?#]", url.partition("://")[2], maxsplit=1)[0] if "://" in url else url[:40]
    scheme = url.partition("://")[0] if "://" in url else ""
    return printable(f"{scheme}://{head}" if scheme else head, 120)
