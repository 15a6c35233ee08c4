"""Content-addressed, verified, zero-copy artifact storage.

:class:`DataStore` is what the rest of headwater uses; :class:`Storage` is the five-method
backend interface beneath it (one module per backend: ``local_storage``, ``fsspec_storage``,
``s3_storage``); :func:`encode` / :func:`decode` are the blob format.
"""

from headwater.store.datastore import DataStore, open_datastore
from headwater.store.serialize import decode, encode
from headwater.store.storage import Storage, open_storage

__all__ = [
    "DataStore",
    "FsspecStorage",
    "LocalStorage",
    "Storage",
    "decode",
    "encode",
    "open_datastore",
    "open_storage",
]


def __getattr__(name: str) -> object:
    """The backends' classes, imported only when asked for (a local run never imports fsspec)."""
    if name in ("LocalStorage", "FsspecStorage", "S3Storage"):
        from headwater.store import storage as backends_module

        return getattr(backends_module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
