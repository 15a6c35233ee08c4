"""``metaflow.plugins.datatools.s3`` (and its ``.s3`` module): the S3 client, its values and
its errors under Metaflow's names."""

from __future__ import annotations

from headwater.s3client import S3, S3_TRANSIENT_RETRY_COUNT
from headwater.s3objects import (
    MetaflowS3NotFound,
    RangeInfo,
    S3AccessDenied,
    S3Exception,
    S3GetObject,
    S3InvalidObject,
    S3InvalidRange,
    S3Object,
    S3PutObject,
    S3URLException,
)

MetaflowS3Exception = S3Exception
MetaflowS3AccessDenied = S3AccessDenied
MetaflowS3URLException = S3URLException
MetaflowS3InvalidObject = S3InvalidObject
MetaflowS3InvalidRange = S3InvalidRange

__all__ = [
    "S3", "S3Object", "S3PutObject", "S3GetObject", "RangeInfo", "MetaflowS3Exception",
    "MetaflowS3NotFound", "MetaflowS3AccessDenied", "MetaflowS3URLException",
    "MetaflowS3InvalidObject", "MetaflowS3InvalidRange", "S3_TRANSIENT_RETRY_COUNT",
]
