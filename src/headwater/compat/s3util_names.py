"""``metaflow.plugins.datatools.s3.s3util``: ``get_s3_client``, which scripts and Metaflow's own
S3 test harness use to reach the bucket the ``S3`` client uses.

boto3 is imported only when the function is called, so serving this module costs nothing.
"""

from __future__ import annotations

from typing import Any


def get_s3_client(s3_role_arn: str | None = None, s3_session_vars: dict[str, Any] | None = None,
                  s3_client_params: dict[str, Any] | None = None) -> tuple[Any, type]:
    """``(boto3 S3 client, botocore ClientError)``, as Metaflow returns them.

    The client takes its credentials and endpoint from the environment (``AWS_ENDPOINT_URL``),
    as headwater's S3 datastore does; ``s3_session_vars`` go to the boto3 session and
    ``s3_client_params`` to the client. Assuming ``s3_role_arn`` is not supported.
    """
    if s3_role_arn:
        from headwater.s3objects import S3Exception

        raise S3Exception(f"get_s3_client(s3_role_arn={s3_role_arn!r}): headwater does not "
                          "assume IAM roles", fix="give the role's credentials through the "
                          "environment (AWS_PROFILE, AWS_ACCESS_KEY_ID, ...)")
    try:
        import boto3
        from botocore.exceptions import ClientError
    except ImportError as missing:
        from headwater.s3objects import S3Exception

        raise S3Exception("get_s3_client() needs boto3, which is not installed here "
                          f"({missing})", fix="pip install boto3") from None

    session = boto3.session.Session(**(s3_session_vars or {}))
    return session.client("s3", **(s3_client_params or {})), ClientError


__all__ = ["get_s3_client"]
