"""Connections to one SQLite metadata file, set up so that nobody sees "database is locked".

The rules, and why:

* **WAL journal.** Readers never block the writer and the writer never blocks readers; a reader
  sees the last committed state. WAL is a property of the file, set once when it is created.
* **busy_timeout = 30 s.** Writers of different runs (several schedulers, a client adding tags)
  queue for the single write lock instead of failing. Past it, the error names the file and the
  fix (:mod:`.sqlite_errors`, as for a full disk or a damaged file);
  ``HEADWATER_SQLITE_BUSY_TIMEOUT_S`` changes the bound.
* **BEGIN IMMEDIATE for every write.** A transaction that starts as a reader and later writes
  cannot wait for the lock (SQLite fails it at once to avoid deadlock); taking the write lock up
  front makes it wait like any other writer. Run ids are allocated inside this lock.
* **synchronous = NORMAL.** In WAL mode this stays consistent after a crash; only the last
  commits may be lost on power failure, and each commit costs no fsync.
* **Short read transactions.** Every read fetches all its rows at once, so no snapshot stays
  open and checkpoints can always recycle the WAL.
* **One connection per thread, reopened after fork.** A SQLite connection must not cross a
  fork; a forked child leaves the inherited ones alone and opens its own.
* **No Python file handle on the database.** Closing any descriptor of a file drops every POSIX
  lock the process holds on it, SQLite's included; an exiting writer would then think it the last
  user and delete the WAL files under this process's readers. Checks here use ``stat`` only.

A read-only store opens the file with ``mode=ro`` and ``query_only`` and never creates anything;
until the file exists (no run yet) it answers from an empty in-memory schema, so a fresh checkout
reads as "no flows". A datastore shared read-only (another user's, a read-only mount) has no
``-shm`` file a reader could use or create when no writer has it open, so SQLite cannot open it in
WAL mode: the reader then opens it ``immutable=1`` (no locks, no WAL; safe because no writer is
there) and reopens it whenever the file or its ``-wal`` changes, so it never serves a stale
snapshot. Where the user may create those files, a ``mode=ro`` failure is a real error.

A writer notices when its file was deleted or replaced under it (it checks the file is still the
one it opened before each write transaction), rather than record a run nobody can ever read.
"""

from __future__ import annotations

import _sqlite3 as sqlite3  # the package around it adds only datetime adapters, never used here
import _thread  # threading's Lock, local and get_ident are these: `threading` is not needed
import contextlib
import os
import stat
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from headwater.exceptions import HeadwaterException, MetadataError
from headwater.folders import make_dirs
from headwater.meta import sqlite_sql as sql
from headwater.meta.nesting import joined_transaction
from headwater.meta.run_lock import LOCKS_FOLDER
from headwater.meta.sqlite_errors import (
    BUSY_TIMEOUT_ENV,
    busy_timeout_s,
    damaged,
    environmental,
    explain,
    missing,
    not_a_file,
    planted_link,
    replaced,
)

# Connections inherited through fork. Closing them in the child could disturb the parent's
# locks, so they are kept referenced (never closed, never used) until the child exits.
_INHERITED: list[sqlite3.Connection] = []


class SQLiteConnections:
    """Per-thread connections to ``path`` plus the write-transaction discipline."""

    def __init__(self, path: str, *, readonly: bool) -> None:
        self.path = path
        self.readonly = readonly
        self._pid = os.getpid()
        self._local = _thread._local()
        self._lock = _thread.allocate_lock()
        self._opened: list[sqlite3.Connection] = []
        self._identity: tuple[int, int] | None = None  # (device, inode) of the file a writer opened

    # -- reading ------------------------------------------------------------------------------

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Run one SELECT and return all rows (ending its read transaction at once)."""
        try:
            return self.connection().execute(statement, params).fetchall()
        except sqlite3.Error as exc:
            if not environmental(exc):
                raise
            raise explain(exc, self.path) from exc

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        self._forget_after_fork()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            snapshot = getattr(self._local, "snapshot", None)
            if snapshot is None or snapshot == _signature(self.path):
                return conn
            self._local.conn = None  # an immutable reader's file changed: read it afresh
            with self._lock:
                if conn in self._opened:
                    self._opened.remove(conn)
            conn.close()
        try:
            conn = self._open_file() if os.path.exists(self.path) or not self.readonly else None
            if conn is None:
                _check_not_lost(self.path)
        except sqlite3.Error as exc:
            if not environmental(exc):
                raise
            raise explain(exc, self.path) from exc
        if conn is None:
            return self._empty()
        self._local.conn = conn
        return conn

    # -- writing ------------------------------------------------------------------------------

    def write(self) -> AbstractContextManager[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE); nested uses join the outer one."""
        if self.readonly:
            raise HeadwaterException(
                f"the metadata database {self.path} was opened read-only",
                fix="open it with open_metadata(url) (readonly=False) to write",
            )
        return joined_transaction(self._local, self._begin)

    def _begin(self) -> AbstractContextManager[sqlite3.Connection]:
        conn = self.connection()
        if self._identity is not None and _identity(self.path) != self._identity:
            raise replaced(self.path)
        return _immediate(conn, self.path)

    def close(self) -> None:
        """Close every connection this process opened (any thread)."""
        with self._lock:
            opened, self._opened = self._opened, []
        if os.getpid() == self._pid:
            for conn in opened:
                conn.close()
        self._local = _thread._local()
        self._identity = None  # reopened later, it is whatever file is there then

    # -- opening ------------------------------------------------------------------------------

    def _open_file(self) -> sqlite3.Connection | None:
        _check_not_lost(self.path)
        if not self.readonly and not os.path.exists(self.path):
            _create_file(self.path)
        _check_header(self.path)
        if self.readonly:
            conn, self._local.snapshot = _open_reader(self.path)
        else:
            conn = _connect(self.path)
        try:
            if not self._prepare(conn):
                conn.close()
                return None
        except BaseException:
            # Refused (a newer schema, a failed upgrade) or SQLite failed: the connection is in
            # no list close() knows of yet, so it is closed here or never.
            conn.close()
            raise
        with self._lock:
            self._opened.append(conn)
        return conn

    def _prepare(self, conn: sqlite3.Connection) -> bool:
        """Set up a new connection for its role; False for a reader of a file whose schema a
        writer has not committed yet (the caller then reads the empty schema)."""
        if self.readonly:
            conn.execute(sql.PRAGMA_READONLY)
            version = _version(conn)
            if version == 0:  # created by a writer that has not committed its schema yet
                return False
            _refuse_newer(version, self.path)
            if version < sql.SCHEMA_VERSION:
                _upgrade_for_reader(self.path)
            return True
        for pragma in sql.PRAGMAS_WRITER:
            conn.execute(pragma)
        _ensure_schema(conn, self.path)
        self._identity = self._identity or _identity(self.path)
        return True

    def _empty(self) -> sqlite3.Connection:
        conn = getattr(self._local, "empty", None)
        if conn is None:
            conn = _connect(":memory:")
            _ensure_schema(conn, ":memory:")
            conn.execute(sql.PRAGMA_READONLY)
            self._local.empty = conn
            with self._lock:
                self._opened.append(conn)
        return conn

    def _forget_after_fork(self) -> None:
        if os.getpid() == self._pid:
            return
        # The child has one thread; the old lock may have been held by another parent thread at
        # fork time, so it is replaced, never taken.
        _INHERITED.extend(self._opened)
        self._opened = []
        self._local = _thread._local()
        self._lock = _thread.allocate_lock()
        self._pid = os.getpid()


def _connect(path: str, *, uri: bool = False) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves; check_same_thread=False only so
    # close() can run from any thread: each connection is still used by one thread.
    conn = sqlite3.connect(path, timeout=busy_timeout_s(), isolation_level=None,
                           check_same_thread=False, uri=uri)
    try:
        for pragma in sql.PRAGMAS_COMMON:
            conn.execute(pragma)
    except BaseException:
        conn.close()
        raise
    return conn


# What a `file:` URI's path may hold unescaped (``urllib.parse.quote(path)``'s choice, without its
# ~6 ms of imports: urllib.parse brings ipaddress along).
_URI_PATH_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~/")


def uri_path(path: str) -> str:
    """``path`` percent-encoded for a ``file:`` URI: each UTF-8 byte other than the unreserved
    characters and ``/`` as ``%XX`` (so ``?``, ``#``, ``%`` and spaces stay part of the path)."""
    return "".join(chr(byte) if byte in _URI_PATH_SAFE else f"%{byte:02X}"
                   for byte in path.encode())


def _open_reader(path: str) -> tuple[sqlite3.Connection, tuple | None]:
    """A read-only connection, and the file's signature when it had to be opened immutable.

    ``mode=ro`` reads the WAL like any reader when the ``-shm`` file exists or can be created.
    On a folder this user cannot write, with no writer holding the file open (hence no ``-shm``),
    SQLite cannot open it that way; nobody is writing then, so ``immutable=1`` reads it safely.
    """
    base = "file:" + uri_path(os.path.abspath(path))
    conn = _connect(base + "?mode=ro", uri=True)
    try:
        _version(conn)  # the first read is where the WAL index is opened
        return conn, None
    except BaseException as exc:
        conn.close()  # whatever failed (not a database, refused): nobody else would close it
        if not isinstance(exc, sqlite3.OperationalError):
            raise
        # SQLITE_CANTOPEN (a read-only mount) or SQLITE_READONLY_CANTINIT and kin (no right to
        # create the -shm): anything else is a real error. So is either of those where this
        # user may create the WAL files: immutable=1 ignores the -wal, so falling back there
        # would serve an old picture whenever a writer has commits not yet checkpointed.
        if not any(word in str(exc) for word in ("unable to open", "readonly")):
            raise
        if _may_create_wal_files(path):
            raise
    snapshot = _signature(path)
    return _connect(base + "?immutable=1", uri=True), snapshot


def _may_create_wal_files(path: str) -> bool:
    """Whether a ``mode=ro`` reader could open the ``-wal`` and ``-shm`` itself (so it needs no
    immutable fallback): each exists and, for the ``-shm``, is writable, or the folder is."""
    folder_writable = os.access(os.path.dirname(os.path.abspath(path)), os.W_OK | os.X_OK)
    shm = path + "-shm"
    shm_ok = os.access(shm, os.R_OK | os.W_OK) if os.path.exists(shm) else folder_writable
    return shm_ok and (folder_writable or os.path.exists(path + "-wal"))


def _check_not_lost(path: str) -> None:
    """A missing file where runs were recorded was deleted: say so, rather than read "no flows"
    or start a new history whose run ids clash with the lost one's."""
    if os.path.exists(path):
        return
    locks = os.path.join(os.path.dirname(os.path.abspath(path)), LOCKS_FOLDER)
    if os.path.isdir(locks):
        raise missing(path, locks)


_HEADER_SIZE = 100


def _check_header(path: str) -> None:
    """Refuse a file cut shorter than SQLite's header before SQLite sees it: SQLite would read
    such a stub as an empty database, and a writer would start a new history in it. (An empty
    file is fine: a database being created in place. A longer file that is not a database is
    refused by SQLite itself, "file is not a database", which :func:`explain` words as damaged.)

    Only ``stat``, never ``open``: POSIX drops every lock a process holds on a file when it
    closes *any* descriptor of that file, so opening and closing the database here would silently
    release the locks this process's other SQLite connections hold on it. A writer process that
    exits then believes it is the last user, checkpoints and deletes the ``-wal`` and ``-shm``,
    and our readers keep reading the deleted WAL index: an old picture of the database, forever.
    """
    _check_link(path)
    try:
        info = os.stat(path)
    except OSError:
        return  # missing or unreadable: SQLite's own error says which
    size = info.st_size
    if stat.S_ISDIR(info.st_mode):
        raise damaged(path, "a folder, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise not_a_file(path, "a named pipe" if stat.S_ISFIFO(info.st_mode) else
                         "a socket" if stat.S_ISSOCK(info.st_mode) else "a device")
    if 0 < size < _HEADER_SIZE:
        raise damaged(path, f"{size} bytes, not a SQLite header")
    if size == 0 and _runs_were_recorded(path):  # emptied (`: > meta.sqlite`), not being made
        raise damaged(path, "0 bytes, yet runs were recorded beside it")


def _check_link(path: str) -> None:
    """Refuse a ``meta.sqlite`` that is a link made by someone other than this user, root or
    the owner of its folder: whoever else may write a shared datastore's folder could point it
    at a database of this user's own (a browser's history), and headwater would write its tables
    there, where that writer could not. A link of the user's own, or of the store's owner, is
    kept: a database kept elsewhere on purpose. Only ``lstat``/``stat`` (see below)."""
    if not hasattr(os, "geteuid"):
        return
    try:
        link = os.lstat(path)
        if not stat.S_ISLNK(link.st_mode):
            return
        folder_owner = os.stat(os.path.dirname(os.path.abspath(path))).st_uid
    except OSError:
        return
    if link.st_uid not in (os.geteuid(), 0, folder_owner):
        raise planted_link(path, link.st_uid, os.readlink(path))


def _runs_were_recorded(path: str) -> bool:
    """Whether a run ever started against ``path``: its scheduler made ``run-locks/`` beside it
    (kept after the run), which happens only once the database holds a schema (the rule
    :func:`_check_not_lost` uses too)."""
    return os.path.isdir(os.path.join(os.path.dirname(os.path.abspath(path)), LOCKS_FOLDER))


def _signature(path: str) -> tuple:
    """What changes when a writer touches the file (an immutable reader then reopens it)."""
    try:
        st = os.stat(path)
    except OSError:
        return ()
    try:
        wal = os.stat(path + "-wal")
        wal_state: tuple = (wal.st_ino, wal.st_size, wal.st_mtime_ns)
    except OSError:
        wal_state = ()
    # A WAL-mode commit touches only the -wal until a checkpoint, so its state counts too.
    return st.st_ino, st.st_size, st.st_mtime_ns, wal_state


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _version(conn: sqlite3.Connection) -> int:
    return int(conn.execute(sql.GET_VERSION).fetchall()[0][0])


def _refuse_newer(version: int, path: str) -> None:
    if version > sql.SCHEMA_VERSION:
        raise HeadwaterException(
            f"the metadata database {path} has schema version {version}, newer than this "
            f"headwater understands ({sql.SCHEMA_VERSION})",
            fix="upgrade headwater",
        )


def _create_file(path: str) -> None:
    """Create a new database atomically: build it aside, then hard-link it into place.

    Switching a fresh file to WAL needs an exclusive lock, and SQLite answers "database is
    locked" at once (without waiting) when several processes try it together, e.g. eight runs
    launched at the same time on a new project. A private file has no contention; ``os.link``
    fails if the name exists, so the first process wins and the others use its file.
    """
    folder = os.path.dirname(os.path.abspath(path))
    try:
        make_dirs(folder)  # never writable by others, whatever the umask (folders.py)
    except OSError as exc:  # a file where the folder belongs (--datastore-root /etc/passwd)
        raise MetadataError(
            f"cannot create the folder {folder} for the metadata database {path}: "
            f"{exc.strerror or exc}"
            + (" (a file, not a folder, is there)" if os.path.exists(folder)
               and not os.path.isdir(folder) else ""),
            fix="point --datastore-root (HEADWATER_DATASTORE_ROOT) or --metadata at a folder "
            "you can write",
        ) from None
    aside = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.{_thread.get_ident()}")
    try:
        conn = _connect(aside)
        try:
            # Nobody else sees this file until it is linked into place, so SQLite need not sync
            # at each step (WAL switch, schema commit, checkpoint at close): one fsync below
            # makes it durable before it gets its name. Fewer syncs make a fresh project's
            # first run faster.
            conn.execute(_NO_SYNC_WHILE_PRIVATE)
            conn.execute(sql.NEW_FILE_PAGE_SIZE)
            conn.execute(sql.ENABLE_WAL).fetchall()
            _ensure_schema(conn, aside)
        finally:
            conn.close()  # checkpoints: the main file alone now holds schema and WAL mode
        try:
            _fsync(aside)
            os.link(aside, path)
        except FileExistsError:
            pass  # another process created it first; its file is as good as ours
        except OSError:
            # No hard links on this filesystem: fall back to creating in place (the schema
            # step below retries the WAL switch while others hold the lock).
            pass
    finally:  # also when building it failed (a full disk): no private file is left behind
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(aside + suffix)


# Only for the private file _create_file builds aside; every shared connection keeps
# sql.PRAGMAS_WRITER's setting.
_NO_SYNC_WHILE_PRIVATE = "PRAGMA synchronous = OFF"


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _upgrade_for_reader(path: str) -> None:
    """A reader met a database of an older headwater: upgrade it (the migrations only add),
    so the reader's queries find the columns they name."""
    try:
        conn = _connect(path)
        try:
            _ensure_schema(conn, path)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise HeadwaterException(
            f"the metadata database {path} was written by an older headwater and could not be "
            f"upgraded ({exc})",
            fix="run any flow of this project once with this headwater, from an account that "
            "may write the file",
        ) from exc


def _ensure_schema(conn: sqlite3.Connection, path: str) -> None:
    """Create or upgrade the schema; safe when many processes open the file at once."""
    version = _version(conn)
    if version == sql.SCHEMA_VERSION:
        return
    _refuse_newer(version, path)
    if version == 0:  # a new file (created in place): its pages are not written yet
        conn.execute(sql.NEW_FILE_PAGE_SIZE)
    _enable_wal(conn)
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = _version(conn)  # another process may have done it while we waited
        for step in range(version, sql.SCHEMA_VERSION):
            for statement in sql.MIGRATIONS[step]:
                conn.execute(statement)
        conn.execute(sql.SET_VERSION.format(version=sql.SCHEMA_VERSION))
    except BaseException:
        _rollback(conn)
        raise
    _commit(conn)


def _enable_wal(conn: sqlite3.Connection, timeout: float = 30.0) -> None:
    """Switch to WAL, retrying: this pragma does not wait on busy_timeout by itself."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn.execute(sql.ENABLE_WAL).fetchall()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


@contextmanager
def _immediate(conn: sqlite3.Connection, path: str) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE takes the write lock up front, so a read-then-write never deadlocks.

    SQLite's own errors (locked past the busy timeout, disk full, ...) leave as MetadataError.
    """
    try:
        _begin_immediate(conn, path)
        try:
            yield conn
        except BaseException:
            _rollback(conn)
            raise
        _commit(conn)
    except sqlite3.Error as exc:
        if not environmental(exc):
            raise
        raise explain(exc, path) from exc


# A write that has waited this long for another process's lock says so, once per process: a
# run that seems stuck after "The graph looks good!" then says why (and what holds it).
NOTICE_AFTER_S = 2.0
_said_waiting: list[str] = []


def _begin_immediate(conn: sqlite3.Connection, path: str) -> None:
    """BEGIN IMMEDIATE, waiting for another process's write lock up to the busy timeout in all;
    past :data:`NOTICE_AFTER_S`, the wait is announced on stderr before it goes on."""
    total = busy_timeout_s()
    if total <= NOTICE_AFTER_S:
        conn.execute("BEGIN IMMEDIATE")
        return
    conn.execute(f"PRAGMA busy_timeout = {int(NOTICE_AFTER_S * 1000)}")
    try:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc).lower() and "busy" not in str(exc).lower():
                raise
        _say_waiting(path, total)
        conn.execute(f"PRAGMA busy_timeout = {int((total - NOTICE_AFTER_S) * 1000)}")
        conn.execute("BEGIN IMMEDIATE")  # past the rest of the bound: explain()'s "locked"
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(total * 1000)}")


def _say_waiting(path: str, total: float) -> None:
    if path in _said_waiting:
        return
    _said_waiting.append(path)
    import sys

    with contextlib.suppress(OSError, ValueError):  # a closed stderr must not fail the write
        sys.stderr.write(
            f"headwater: waiting for the metadata database {path}: another process holds its "
            f"write lock (`fuser {path}` names it); giving up after {total:g} s in all "
            f"({BUSY_TIMEOUT_ENV} changes that)\n")
        sys.stderr.flush()


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:  # some errors (disk full, I/O) have rolled back already
        with contextlib.suppress(sqlite3.Error):  # the error that brought us here matters more
            conn.execute("ROLLBACK")


def _commit(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise
