"""The client's address, for every per-address limit (logins, SMS codes, verification, the
anonymous API).

``X-Forwarded-For`` is written by whoever sends the request, so it is believed only as far as
it was written by the proxies of ``TRUSTED_PROXIES`` (addresses or networks; none by default):
when the request comes from one of them, the address is the rightmost entry of the header that
is not itself a trusted proxy, the one our own proxy saw. Otherwise it is the address of the
connection, whatever the header says.
"""

from __future__ import annotations

import functools
import ipaddress

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver


@functools.cache
def _trusted() -> tuple:
    return tuple(ipaddress.ip_network(n.strip(), strict=False) for n in settings.TRUSTED_PROXIES if n.strip())


@receiver(setting_changed)
def _forget(setting, **kwargs):
    if setting == "TRUSTED_PROXIES":
        _trusted.cache_clear()


def _ip(text: str):
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _is_trusted(ip) -> bool:
    return ip is not None and any(ip in network for network in _trusted())


def client_address(request) -> str:
    """The client's address as the limits count it (see the module's note)."""
    if request is None:
        return ""
    meta = getattr(request, "META", {})
    remote = (meta.get("REMOTE_ADDR") or "").strip()
    if not _trusted() or not _is_trusted(_ip(remote)):
        return remote
    for entry in reversed((meta.get("HTTP_X_FORWARDED_FOR") or "").split(",")):
        ip = _ip(entry)
        if ip is None:
            return remote  # not written by a proxy of ours: the last hop we know is the proxy
        if not _is_trusted(ip):
            return str(ip)
    return remote
