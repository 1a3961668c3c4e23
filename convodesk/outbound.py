"""Connections to addresses that users configure: a REST connection's webhook, Bitrix24 event
handlers bound through /rest/ (HTTP, `opener`), and an e-mail connection's IMAP and SMTP servers
(`IMAP4`, `IMAP4_SSL`, `SMTP`, `SMTP_SSL`).

Whoever can set such an address could otherwise make the server call into its own network:
the database, Redis, an admin panel on localhost, a cloud metadata service at 169.254.169.254.
So these requests connect only to public addresses. Every address a host name resolves to is
checked when the connection is made (the address connected to is the one checked, so a name
that resolves differently a second later changes nothing), redirects are not followed, and
networks an installation does deliver to (a CRM on the office network) are allowed by
`OUTBOUND_ALLOW_NETWORKS` (comma-separated, e.g. `10.20.0.0/16,192.168.1.5/32`).

Where the network requires an HTTP proxy (`OUTBOUND_PROXY`), `urlopen` sends the HTTP requests
through it: the proxy is the operator's own choice and may be on a private address; the
destination is checked here on the addresses its name resolves to, and the proxy resolves it
again (so a name that changes its answer in between is the proxy's to refuse). Addresses the
operator set rather than a user (the Telegram Bot API) are opened by `operator_urlopen`: through
the same proxy, unchecked.
"""

from __future__ import annotations

import http.client
import imaplib
import ipaddress
import smtplib
import socket
import urllib.request
from functools import cache
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _


class Refused(OSError):
    """The destination is on a network this installation does not send to."""


@cache
def _allowed(spec: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(n.strip(), strict=False) for n in spec if n.strip())


def allowed_networks() -> tuple:
    return _allowed(tuple(settings.CONVODESK.get("OUTBOUND_ALLOW_NETWORKS", ())))


def public(address: str) -> bool:
    """Whether requests may go to this IP address: a global unicast one, or an allowed one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if any(ip in network for network in allowed_networks()):
        return True
    mapped = getattr(ip, "ipv4_mapped", None) or getattr(ip, "sixtofour", None)
    if mapped is not None:
        return public(str(mapped))
    return ip.is_global and not ip.is_multicast


def refusal(host: str) -> str:
    return _(
        "%(host)s is on a private or local network; the administrator can allow it with "
        "OUTBOUND_ALLOW_NETWORKS."
    ) % {"host": host}


def check_destination(url: str) -> str | None:
    """At configuration time: why the URL's host may not be called, or None (`check_host`)."""
    return check_host(urlsplit(url).hostname or "")


def check_host(host: str) -> str | None:
    """At configuration time: why this host may not be connected to (an address or a name that
    resolves only to addresses outside the allowed ones), or None. A name that does not resolve
    now is accepted: the check that counts is made again at each connection."""
    addresses = _addresses(host)
    if addresses and not any(public(a) for a in addresses):
        return refusal(host)
    return None


def _addresses(host: str) -> set[str]:
    """The addresses `host` resolves to here (none when it does not resolve)."""
    try:
        return {info[4][0] for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)}
    except (OSError, UnicodeError, ValueError):
        return set()


def _create_connection(address, timeout=socket._GLOBAL_DEFAULT_TIMEOUT, source_address=None):
    """`socket.create_connection`, to the resolved addresses that pass `public` only."""
    host, port = address
    last: OSError | None = None
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    usable = [info for info in infos if public(info[4][0])]
    if not usable:
        raise Refused(refusal(host))
    for family, kind, proto, _name, sockaddr in usable:
        sock = socket.socket(family, kind, proto)
        try:
            if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    raise last or OSError(f"could not connect to {host}")


class _HTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = _create_connection


class _HTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = _create_connection


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_HTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_HTTPSConnection, req, context=self._context)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirected POST would silently become a GET; report it instead


class _NoProxy(urllib.request.ProxyHandler):
    def __init__(self):
        super().__init__({})  # the environment's proxy would connect instead of us


opener = urllib.request.build_opener(_NoProxy, _HTTPHandler, _HTTPSHandler, _NoRedirect)


@cache
def _through(proxy: str, follow: bool = False):
    """The opener that sends every request through `proxy` (a CONNECT tunnel for https);
    `follow`: redirects are followed (only towards addresses the operator set)."""
    handlers = [urllib.request.ProxyHandler({"http": proxy, "https": proxy})]
    return urllib.request.build_opener(*handlers, *([] if follow else [_NoRedirect]))


def urlopen(request: urllib.request.Request, timeout: float):
    """`opener.open`, or through OUTBOUND_PROXY when one is set, after checking the destination.

    A name this machine cannot resolve is left to the proxy (a network that needs a proxy often
    resolves outside names only there); a name or address that resolves here must resolve to
    allowed addresses only."""
    proxy = settings.CONVODESK.get("OUTBOUND_PROXY")
    if not proxy:
        return opener.open(request, timeout=timeout)
    host = urlsplit(request.full_url).hostname or ""
    if any(not public(address) for address in _addresses(host)):
        raise Refused(refusal(host))
    return _through(proxy).open(request, timeout=timeout)


def operator_urlopen(request, timeout: float):
    """A request to an address the operator set, not a user (the Telegram Bot API,
    TELEGRAM_API_BASE): through OUTBOUND_PROXY when one is set, else as urllib opens it (which
    honours HTTP(S)_PROXY); its destination is not checked."""
    proxy = settings.CONVODESK.get("OUTBOUND_PROXY")
    if not proxy:
        return urllib.request.urlopen(request, timeout=timeout)
    return _through(proxy, follow=True).open(request, timeout=timeout)


# Mail: the standard clients, connecting through the same check --------------------------


class IMAP4(imaplib.IMAP4):
    def _create_socket(self, timeout):
        if timeout is not None and not timeout:
            raise ValueError("Non-blocking socket (timeout=0) is not supported")
        address = (self.host or None, self.port)
        return _create_connection(
            address, socket._GLOBAL_DEFAULT_TIMEOUT if timeout is None else timeout
        )


class IMAP4_SSL(imaplib.IMAP4_SSL):  # noqa: N801 - named as imaplib names it
    def _create_socket(self, timeout):
        sock = IMAP4._create_socket(self, timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)


class SMTP(smtplib.SMTP):
    def _get_socket(self, host, port, timeout):
        if timeout is not None and not timeout:
            raise ValueError("Non-blocking socket (timeout=0) is not supported")
        return _create_connection((host, port), timeout, self.source_address)


class SMTP_SSL(smtplib.SMTP_SSL, SMTP):  # noqa: N801 - its _get_socket wraps SMTP's above
    pass


def refused(exc: BaseException) -> bool:
    """Whether an error from `urlopen` or a mail client here is this module's refusal (a
    permanent failure)."""
    return isinstance(exc, Refused) or isinstance(getattr(exc, "reason", None), Refused)
