"""``metaflow.plugins.datatools.s3``: the S3 client and its errors under Metaflow's names."""

from __future__ import annotations

from headwater.s3client import (
    S3,
    S3AccessDenied,
    S3Exception,
    S3GetObject,
    S3InvalidObject,
    S3NotFound,
    S3Object,
    S3PutObject,
    S3URLException,
)

MetaflowS3Exception = S3Exception
MetaflowS3NotFound = S3NotFound
MetaflowS3AccessDenied = S3AccessDenied
MetaflowS3URLException = S3URLException
MetaflowS3InvalidObject = S3InvalidObject

__all__ = [
    "S3", "S3Object", "S3PutObject", "S3GetObject", "MetaflowS3Exception", "MetaflowS3NotFound",
    "MetaflowS3AccessDenied", "MetaflowS3URLException", "MetaflowS3InvalidObject",
]
