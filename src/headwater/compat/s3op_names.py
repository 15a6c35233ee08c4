"""``metaflow.plugins.datatools.s3.s3op``: the two helpers of Metaflow's S3 worker that tools
(and its tests) import. headwater has no worker process; these are what it offers in its place.

botocore is imported only when :func:`convert_to_client_error` is called.
"""

from __future__ import annotations

import re
from typing import Any

from headwater.s3objects import local_name

_BOTO_ERROR = re.compile(r"An error occurred \((?P<code>[^)]+)\) when calling the "
                         r"(?P<operation>\w+) operation(?: \([^)]*\))?: (?P<message>.*)", re.DOTALL)


def generate_local_path(url: str, range: str | None = "whole",  # noqa: A002 - Metaflow's name
                        suffix: str | None = None) -> str:
    """The file name headwater gives the local copy of ``url`` (``range``: an HTTP byte range
    such as ``bytes=0-99``, or ``whole``); under 255 characters, distinct per URL and range."""
    return local_name(url, None if range in (None, "whole") else range, suffix)


def convert_to_client_error(text: str) -> Any:
    """botocore's ``ClientError`` back from its printed form (``An error occurred (SlowDown)
    when calling the PutObject operation: ...``), as an error re-raised from a worker reads."""
    from botocore.exceptions import ClientError

    match = _BOTO_ERROR.search(text)
    if match is None:
        return ClientError({"Error": {"Code": "Unknown", "Message": text}}, "Unknown")
    return ClientError({"Error": {"Code": match["code"], "Message": match["message"].strip()}},
                       match["operation"])


__all__ = ["generate_local_path", "convert_to_client_error"]
