"""Two ASGI middlewares at the edge of the manager: the real client behind a trusted proxy, and the
browser security headers of every response."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# FastAPI's /docs and /redoc load their viewer from a CDN with an inline bootstrap script.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; font-src 'self' "
    "https://fonts.gstatic.com; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")
SECURITY_HEADERS = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)


class TrustedPeers:
    """Peers whose forwarding headers are believed: ``*``, addresses, networks (``10.0.0.0/8``) or, for
    peers that are not IP addresses (a unix socket, the test client), their exact name."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.anyone = False
        self.networks: list[Network] = []
        self.names: set[str] = set()
        for entry in entries:
            entry = entry.strip()
            if not entry:
                continue
            if entry == "*":
                self.anyone = True
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.names.add(entry)

    def __bool__(self) -> bool:
        return self.anyone or bool(self.networks or self.names)

    def trusts(self, host: str) -> bool:
        if self.anyone or host in self.names:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)


def parse_allow_ips(text: str | None) -> tuple[str, ...]:
    """``--forwarded-allow-ips`` (comma-separated) as a tuple; each entry checked, with the bad one named."""
    entries = tuple(e.strip() for e in (text or "").split(",") if e.strip())
    for entry in entries:
        if entry != "*" and not _is_network(entry):
            raise ValueError(
                f"--forwarded-allow-ips: {entry!r} is neither '*' nor an IP address or network (10.0.0.0/8)"
            )
    return entries


def _is_network(entry: str) -> bool:
    try:
        ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
    return True


class TrustedProxyMiddleware:
    """When the peer is a trusted proxy, the client address is the right-most X-Forwarded-For entry that
    is not itself a trusted proxy, and the scheme is X-Forwarded-Proto. From any other peer these
    headers are ignored: anyone can send them, and believing them would let a client pick its address
    (to dodge login throttling) or make a plain-http cookie look secure."""

    def __init__(self, app: ASGIApp, trusted: Iterable[str]) -> None:
        self.app = app
        self.trusted = TrustedPeers(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.trusted:
            peer = scope.get("client")
            if peer and self.trusted.trusts(peer[0]):
                scope = dict(scope)
                headers: dict[bytes, str] = {}
                for name, value in scope["headers"]:
                    if name in (b"x-forwarded-for", b"x-forwarded-proto"):
                        text = value.decode("latin-1")
                        headers[name] = f"{headers[name]},{text}" if name in headers else text
                proto = headers.get(b"x-forwarded-proto", "").split(",")[-1].strip().lower()
                if proto in ("http", "https"):
                    websocket = scope["type"] == "websocket"
                    scope["scheme"] = {"http": "ws", "https": "wss"}[proto] if websocket else proto
                hops = [h.strip() for h in headers.get(b"x-forwarded-for", "").split(",") if h.strip()]
                for hop in reversed(hops):
                    if not self.trusted.trusts(hop):
                        scope["client"] = (hop, 0)
                        break
        await self.app(scope, receive, send)


class SecurityHeadersMiddleware:
    """X-Frame-Options DENY, nosniff, Referrer-Policy and a Content-Security-Policy on every response
    (the pages load only their own scripts; inline style attributes are allowed)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = DOCS_CSP if scope["path"] in DOCS_PATHS else PAGE_CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS:
                    headers.setdefault(name.decode(), value.decode())
                headers.setdefault("content-security-policy", csp)
            await send(message)

        await self.app(scope, receive, send_with_headers)
