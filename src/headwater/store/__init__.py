"""Content-addressed, verified, zero-copy artifact storage.

:class:`DataStore` is what the rest of headwater uses; :class:`Storage` is the five-method
backend interface beneath it; :func:`encode` / :func:`decode` are the blob format.
"""

from headwater.store.datastore import DataStore, open_datastore
from headwater.store.serialize import decode, encode
from headwater.store.storage import FsspecStorage, LocalStorage, Storage, open_storage

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
