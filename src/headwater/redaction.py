"""The one place that hides passwords in text headed for a user, a log or a record.

A database URL may carry its password in three ways, and libpq accepts them all::

    postgresql://hw:PW@host/db                  the userinfo of the URL
    postgresql://hw@host/db?password=PW         a query parameter (also sslpassword=)
    host=db user=hw password=PW                 a key=value connection string

:func:`redact` replaces each password with ``***`` wherever it occurs in a text, so it can be
applied to a bare URL, a message that quotes one, or a driver's error. Everything that shows a
metadata URL (``configure show``, ``get_metadata()``, errors, reprs) goes through it.
:func:`without_password` leaves the password out of a URL that must still work (a deployed
task's ``--metadata``, which gets the password from ``PGPASSWORD`` instead).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

MASK = "***"
_SECRET_KEYS = {"password", "sslpassword"}

# scheme://user:PASSWORD@ ; a password cannot hold a raw '@' or '/' (libpq stops there).
_USERINFO = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@?#]*:)[^\s@/]*@")
# password=... and sslpassword=..., as a URL query parameter or a key=value pair; a value in
# single quotes may hold spaces and backslash-escaped quotes (libpq's quoting).
_KEYWORD = re.compile(
    r"((?:^|(?<=[\s?&;,(\"']))(?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s&'\"]*)",
    re.IGNORECASE,
)
# Any URL query parameter: libpq percent-decodes the name too (?pass%77ord=PW is a password).
_QUERY = re.compile(r"([?&])([^=&\s]+)=([^&\s]*)")


def redact(text: str) -> str:
    """``text`` with every password in it replaced by ``***`` (see the module docstring)."""
    text = _USERINFO.sub(rf"\1{MASK}@", text)
    text = _QUERY.sub(_mask_query_secret, text)
    return _KEYWORD.sub(rf"\1{MASK}", text)


def _mask_query_secret(match: re.Match[str]) -> str:
    sep, key, _ = match.groups()
    if unquote(key).strip().lower() in _SECRET_KEYS:
        return f"{sep}{key}={MASK}"
    return match.group(0)


def without_password(url: str) -> str:
    """``url`` with its password left out, not masked (see the module docstring); a path is
    returned as it is."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k.strip().lower() not in _SECRET_KEYS]
    userinfo, at, host = parts.netloc.rpartition("@")
    netloc = f"{userinfo.partition(':')[0]}@{host}" if at and parts.password else parts.netloc
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query)))
