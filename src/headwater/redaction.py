"""The one place that hides passwords in text headed for a user, a log or a record.

A database URL may carry its password in three ways, and libpq accepts them all::

    postgresql://hw:PW@host/db                  the userinfo of the URL
    postgresql://hw@host/db?password=PW         a query parameter (also sslpassword=)
    host=db user=hw password=PW                 a key=value connection string

A package URL (a ``@pypi`` direct reference, a conda channel) carries its credentials in the
userinfo too, often a token alone (``https://ghp_TOKEN@github.com/...``), or, for anaconda.org,
as the path segment after ``/t/``: :func:`hide_url_credentials` masks those (and ``redact`` does
too), keeping the URL's user name where there is a password beside it.

The same goes for the clouds' secrets a datastore setting or a driver's error may quote: an
Azure connection string's ``AccountKey=`` / ``SharedAccessSignature=``, and the signature or
token of a signed URL (``?sig=``, ``X-Goog-Signature=``, ``X-Amz-Signature=``...).

:func:`redact` replaces each password with ``***`` wherever it occurs in a text, so it can be
applied to a bare URL, a message that quotes one, or a driver's error. Everything that shows a
metadata URL (``configure show``, ``get_metadata()``, errors, reprs) goes through it.
:func:`without_password` leaves the password out of a URL that must still work (a deployed
task's ``--metadata``, which gets the password from ``PGPASSWORD`` instead).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import unquote

MASK = "***"
# Query parameters that carry a secret: libpq's passwords, and the signatures and tokens of the
# clouds' signed URLs (an Azure SAS's sig=, Google's and Amazon's X-*-Signature, a security token).
_SECRET_KEYS = {"password", "sslpassword", "sig", "x-goog-signature", "x-amz-signature",
                "x-amz-security-token", "x-amz-credential", "x-goog-credential",
                "access_token", "account_key", "sas_token", "client_secret"}
_PG_SECRET_KEYS = {"password", "sslpassword"}  # what without_password strips from a database URL

# scheme://user:PASSWORD@ ; up to the last '@' of the word: a password typed with a raw '@',
# '/', '?' or '#' (libpq would cut it short, and its error would quote the rest) is hidden whole.
# A scheme is looked for only from the start of a run of the letters a scheme may hold (digits
# and "+.-" before its first letter are kept with it), and the userinfo only in a word cut after
# its last '@' (see _sub_userinfo): each character is then read a bounded number of times, and
# 48 KB of "a://b:" or "a.a.a" is masked in linear time (it took seconds, "?" * 48000 minutes).
_SCHEME = r"(?<![A-Za-z0-9+.-])[0-9+.-]*[A-Za-z][A-Za-z0-9+.-]*://"
_USERINFO = re.compile(rf"({_SCHEME}[^\s:/@?#]*:)\S*@")
_WORD = re.compile(r"\S+")
# password=... and sslpassword=..., as a URL query parameter or a key=value pair; a value in
# single quotes may hold spaces and backslash-escaped quotes (libpq's quoting).
_KEYWORD = re.compile(
    r"((?:^|(?<=[\s?&;,(\"']))(?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s&'\"]*)",
    re.IGNORECASE,
)
# Any URL query parameter: libpq percent-decodes the name too (?pass%77ord=PW is a password).
# A name holds no '?' (so "?x?password=PW" is read as two, and a run of '?' in linear time).
_QUERY = re.compile(r"([?&])([^=&?\s]+)=([^&\s]*)")
# The keys of an Azure connection string (``AccountName=a;AccountKey=KEY;...``), up to the ';'.
_AZURE_KEYS = re.compile(
    r"(\b(?:AccountKey|SharedAccessSignature|SharedAccessKey)\s*=\s*)([^;\s'\"]*)",
    re.IGNORECASE)


# scheme://TOKEN@ : a userinfo without a password, which for anything but a database URL (whose
# user name alone is no secret) is how a token is given (GitHub, GitLab, a private index).
_TOKEN_USERINFO = re.compile(r"((?<![A-Za-z0-9+.-])[0-9+.-]*(?![Pp][Oo][Ss][Tt][Gg][Rr][Ee][Ss])"
                             r"[A-Za-z][A-Za-z0-9+.-]*://)[^\s:/@?#]+@")
# anaconda.org's token channels: https://conda.anaconda.org/t/TOKEN/CHANNEL
_CONDA_TOKEN = re.compile(r"(://[^\s/]+/t/)[^\s/]+(?=/)")


def hide_url_credentials(text: str) -> str:
    """``text`` with the credentials of every URL in it masked: a password (``user:***@``), a
    token given as the user name (``***@``), an anaconda.org channel token (``/t/***/``)."""
    text = _sub_userinfo(lambda m: f"{m.group(1)}{MASK}@", text)
    text = _TOKEN_USERINFO.sub(rf"\1{MASK}@", text)
    return _CONDA_TOKEN.sub(rf"\1{MASK}", text)


def redact(text: str) -> str:
    """``text`` with every password in it replaced by ``***`` (see the module docstring)."""
    text = hide_url_credentials(text)
    text = _QUERY.sub(_mask_query_secret, text)
    text = _AZURE_KEYS.sub(rf"\1{MASK}", text)
    return _KEYWORD.sub(rf"\1{MASK}", text)


def without_password(url: str) -> str:
    """``url`` with its password removed rather than masked (``postgresql://hw@host/db``), for
    documents that must still connect, the password coming from elsewhere (``PGPASSWORD``)."""
    base, sep, query = url.partition("?")  # an '@' in the query is not the password's
    base = _sub_userinfo(lambda m: m.group(1)[:-1] + "@", base, count=1)
    if not sep:
        return base
    kept = [pair for pair in query.split("&")
            if pair and unquote(pair.partition("=")[0]).strip().lower() not in _PG_SECRET_KEYS]
    return base + ("?" + "&".join(kept) if kept else "")


def password_needs_quoting(url: str) -> bool:
    """Whether the password in ``url``'s userinfo holds a raw ``@``, ``/``, ``?`` or ``#``.

    libpq cuts such a password short and reads the rest as the host, so its error would quote a
    piece of the password: the caller says what is wrong instead of showing the driver's text.
    """
    match = re.match(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@?#]*:(\S*)@", url)
    return bool(match) and any(c in match.group(1) for c in "@/?#")


def _sub_userinfo(repl: Callable[[re.Match[str]], str], text: str, count: int = 0) -> str:
    """``_USERINFO.sub(repl, text, count)`` in linear time.

    A match lies within one word and ends at an '@'; ``\\S*@`` reaches the word's last one. So
    each word is cut after its last '@' and only the part before is searched: the regex alone read
    the rest of the word again from every ``scheme://user:`` without an '@' after it.
    """
    left = [count or -1]

    def word(match: re.Match[str]) -> str:
        text = match.group(0)
        cut = text.rfind("@") + 1
        if not cut or not left[0]:
            return text
        head, found = _USERINFO.subn(repl, text[:cut], count=max(left[0], 0))
        left[0] -= found
        return head + text[cut:]

    return _WORD.sub(word, text)


def _mask_query_secret(match: re.Match[str]) -> str:
    sep, key, _ = match.groups()
    if unquote(key).strip().lower() in _SECRET_KEYS:
        return f"{sep}{key}={MASK}"
    return match.group(0)
