"""``metaflow.plugins.datatools``: Metaflow re-exports its S3 client here too."""

from __future__ import annotations

from headwater.s3client import S3

__all__ = ["S3"]
