"""The consumers' page's Content-Security-Policy, carried by the page itself wherever it is hosted.

A policy sent as a header protects the page only where the host sends it (`make serve` does; a bucket
or a static host may not), so `web/index.html` carries its own in a `<meta http-equiv>`: everything a
meta policy can carry. `connect-src` names origins, never a wildcard: the committed file names only
`'self'` (it fails closed: hosted anywhere else as it is, it reaches nothing), `make serve` renders it
with the emulated storage, and `make page ENV=...` renders it with the deployed API's and buckets'
origins. `frame-ancestors` is ignored in a meta policy (CSP3 section 6.1.2), so the header adds it
where one is sent.
"""

from __future__ import annotations

import html
import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

META_DIRECTIVES = (
    "default-src 'self'",
    "media-src 'self' blob:",  # the chosen file, or the recording, plays from a blob: URL
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
)
"""Every directive but connect-src that a `<meta>` policy can carry."""
HEADER_ONLY_DIRECTIVES = ("frame-ancestors 'none'",)
"""What only a header can carry: never framed (clickjacking)."""

_META = re.compile(r'<meta http-equiv="Content-Security-Policy" content="[^"]*">')


class PagePolicyError(ValueError):
    """An origin the page may not name, or a page file without its policy."""


def origin(url: str) -> str:
    """scheme://host[:port] of `url`: https, or http on loopback (where the emulator and make serve run)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host or "*" in host:
        raise PagePolicyError(f"connect origin {url!r}: an https URL with a host (no wildcard) is needed")
    if parts.scheme == "http" and not _loopback(host):
        raise PagePolicyError(f"connect origin {url!r}: http only on loopback, https elsewhere")
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def connect_sources(origins: Iterable[str]) -> str:
    """`'self'` and each origin once, in order."""
    return " ".join(dict.fromkeys(["'self'", *(origin(o) for o in origins)]))


def meta_policy(connect_origins: Iterable[str]) -> str:
    """The policy the page carries in its `<meta>`: requests only to itself and `connect_origins`."""
    return "; ".join((META_DIRECTIVES[0], f"connect-src {connect_sources(connect_origins)}", *META_DIRECTIVES[1:]))


def header_policy(connect_origins: Iterable[str]) -> str:
    """The same policy as a header, with what only a header can carry."""
    return "; ".join((meta_policy(connect_origins), *HEADER_ONLY_DIRECTIVES))


def with_policy(page_html: str, connect_origins: Iterable[str]) -> str:
    """`page_html` (index.html) with its `<meta>` policy naming `connect_origins`; refuses a page that has
    none (a host would then serve it unprotected)."""
    if len(_META.findall(page_html)) != 1:
        raise PagePolicyError('index.html must carry exactly one <meta http-equiv="Content-Security-Policy">')
    content = html.escape(meta_policy(connect_origins), quote=False).replace('"', "&quot;")
    meta = f'<meta http-equiv="Content-Security-Policy" content="{content}">'
    return _META.sub(lambda _: meta, page_html)


def carried_policy(page_html: str) -> str:
    """The policy a page's `<meta>` carries (what a browser reads)."""
    found = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', page_html)
    if found is None:
        raise PagePolicyError("no <meta> Content-Security-Policy")
    return html.unescape(found.group(1))
