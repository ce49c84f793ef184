"""MariaDB, PostgreSQL and Redis with a weak and a hardened configuration, for baseline tests.

Each instance keeps its configuration in a small Debian-like tree (``etc/mysql/my.cnf``,
``etc/postgresql/15/main/…``, ``etc/redis/redis.conf``, the data directory under ``var/lib``)
and the running server reads exactly those files, so ``--root TREE`` next to the DSN checks
the same configuration the server runs with. Every server listens on 127.0.0.1 only and a
free port; the weak ones are weak in their accounts and settings, never in their exposure.

Process handling reuses ``tests/services`` (binary lookup, readiness, shutdown, ports).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import psycopg
import pymysql
import pytest

from tests.services.dbproc import require_binary, start_with_retries, wait_for_port
from tests.services.nginx import _certificate
from tests.services.postgres import ServiceUnavailable, _bindir, free_port
from tests.services.process import stop_process

# The auditing account's password on the hardened servers (long, mixed: passes every
# password-quality plugin the hardened MariaDB loads).
STRONG = "Xq7!vR2#pL9@mZ4$wK8^"
WEAK_ROOT = "root"


@dataclass
class DbInstance:
    """A running server: the DSN to audit it and the tree holding its configuration."""

    name: str
    dsn: str
    tree: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def stop(self) -> None:
        """Stop the server and remove its files."""
        for process in self.processes:
            stop_process(process)
        shutil.rmtree(self.tree, ignore_errors=True)


def _tree(prefix: str) -> Path:
    tree = Path(tempfile.mkdtemp(prefix=f"shaobing-bl-{prefix}-"))
    # PostgreSQL runs as its own user and must reach its files inside the tree.
    tree.chmod(0o755)
    # Owner names in results come from the tree's own passwd/group, as on a real image.
    (tree / "etc").mkdir()
    for name in ("passwd", "group"):
        shutil.copyfile(f"/etc/{name}", tree / "etc" / name)
    (tree / "etc" / "os-release").write_text(Path("/etc/os-release").read_text())
    return tree


def _demote_to(user: str) -> tuple[int | None, int | None, Callable[[], None] | None]:
    """uid, gid and a preexec function running a child as ``user`` (only when we are root)."""
    if os.geteuid() != 0:
        return None, None, None
    entry = pwd.getpwnam(user)
    uid, gid = entry.pw_uid, entry.pw_gid

    def demote() -> None:
        os.setgid(gid)
        os.setuid(uid)

    return uid, gid, demote


def _chown_tree(paths: list[Path], uid: int | None, gid: int | None) -> None:
    if uid is None or gid is None:
        return
    for path in paths:
        os.chown(path, uid, gid)


# --------------------------------------------------------------------------- MariaDB


def _mariadb_cnf(tree: Path, port: int, hardened: bool) -> str:
    data = tree / "var/lib/mysql"
    run = tree / "run/mysqld"
    lines = [
        "# written by tests/baseline/db_services.py",
        "[mysqld]",
        f"datadir = {data}",
        f"port = {port}",
        "bind-address = 127.0.0.1",
        f"socket = {run / 'mysqld.sock'}",
        f"pid-file = {run / 'mysqld.pid'}",
        "skip-log-bin",
        "innodb-buffer-pool-size = 16M",
        "innodb-log-file-size = 4M",
        "performance-schema = OFF",
    ]
    if os.geteuid() == 0:
        # the weak server runs as root (a classic mistake), the hardened one as mysql
        lines.append(f"user = {'mysql' if hardened else 'root'}")
    if hardened:
        cert, key = tree / "etc/mysql/ssl/cert.pem", tree / "etc/mysql/ssl/key.pem"
        lines += [
            f"log-error = {tree / 'var/log/mysql/error.log'}",
            "local-infile = 0",
            f"secure-file-priv = {tree / 'var/lib/mysql-files'}",
            "skip-symbolic-links",
            "skip-name-resolve",
            "max-connect-errors = 100",
            "max-password-errors = 5",
            f"ssl-cert = {cert}",
            f"ssl-key = {key}",
            "tls-version = TLSv1.2,TLSv1.3",
            "require-secure-transport = ON",
            "plugin-load-add = server_audit",
            "plugin-load-add = simple_password_check",
            "server-audit-logging = ON",
            "server-audit-events = CONNECT,QUERY_DDL,QUERY_DCL",
            f"server-audit-file-path = {tree / 'var/log/mysql/audit.log'}",
            "simple-password-check-minimal-length = 12",
        ]
    else:
        lines += [
            "local-infile = 1",
            'secure-file-priv = ""',
            "symbolic-links = 1",
            "max-connect-errors = 1000000",
        ]
    return "\n".join(lines) + "\n"


_WEAK_ACCOUNTS = (
    # root@localhost keeps the empty password mariadb-install-db gives it (the audit
    # connects with it: without skip-name-resolve 127.0.0.1 is "localhost"); root reachable
    # from anywhere, an anonymous account, an account without password, a reporting account
    # with FILE and SUPER, and the test database
    f"CREATE USER 'root'@'%' IDENTIFIED BY '{WEAK_ROOT}'",
    "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION",
    "CREATE USER ''@'build-host'",
    "CREATE USER 'app'@'%'",
    "CREATE USER 'report'@'%' IDENTIFIED BY 'report123'",
    "GRANT FILE, SUPER ON *.* TO 'report'@'%'",
    "CREATE DATABASE test",
)
_HARDENED_ACCOUNTS = (
    f"ALTER USER 'root'@'localhost' IDENTIFIED BY '{STRONG}'",
    f"CREATE OR REPLACE USER 'root'@'127.0.0.1' IDENTIFIED BY '{STRONG}'",
    "GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION",
    f"CREATE USER 'app'@'10.0.0.%' IDENTIFIED BY '{STRONG}' REQUIRE SSL",
    "CREATE DATABASE appdb",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON appdb.* TO 'app'@'10.0.0.%'",
)


def _plant_mariadb(socket_path: Path, hardened: bool) -> None:
    conn = pymysql.connect(unix_socket=str(socket_path), user="root", autocommit=True)
    try:
        with conn.cursor() as cur:
            for statement in _HARDENED_ACCOUNTS if hardened else _WEAK_ACCOUNTS:
                cur.execute(statement)
            if hardened:
                # mariadb-install-db also creates password-less root@<hostname> and root@::1
                cur.execute(
                    "SELECT Host FROM mysql.user WHERE User = 'root'"
                    " AND Host NOT IN ('localhost', '127.0.0.1')"
                )
                for (host,) in cur.fetchall():
                    cur.execute(f"DROP USER 'root'@'{host}'")
    finally:
        conn.close()


def start_mariadb_instance(hardened: bool, timeout: float = 60.0) -> DbInstance:
    """A MariaDB server configured weak or hardened from ``TREE/etc/mysql/my.cnf``."""
    server_bin = require_binary("mariadbd", "mysqld")
    install_bin = require_binary("mariadb-install-db", "mysql_install_db")
    tree = _tree("mariadb")
    for folder in ("etc/mysql/ssl", "var/lib/mysql-files", "var/log/mysql", "run/mysqld"):
        (tree / folder).mkdir(parents=True)
    if hardened:
        cert, key = _certificate(tree / "etc/mysql/ssl")
        cert.rename(tree / "etc/mysql/ssl/cert.pem")
        key.rename(tree / "etc/mysql/ssl/key.pem")
    port = free_port()
    cnf = tree / "etc/mysql/my.cnf"
    cnf.write_text(_mariadb_cnf(tree, port, hardened))
    user = [f"--user={'mysql' if hardened else 'root'}"] if os.geteuid() == 0 else []
    if hardened:
        uid, gid, _ = _demote_to("mysql")
        _chown_tree(
            [tree / f for f in ("etc/mysql/ssl/key.pem", "var/log/mysql", "run/mysqld")]
            + [tree / "var/lib/mysql-files"],
            uid,
            gid,
        )
    install = subprocess.run(
        [
            install_bin,
            f"--defaults-file={cnf}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            *user,
        ],
        capture_output=True,
        check=False,
    )
    if install.returncode != 0:
        shutil.rmtree(tree, ignore_errors=True)
        raise RuntimeError(f"mariadb-install-db failed: {install.stderr[-2000:]!r}")
    (tree / "var/lib/mysql").chmod(0o750 if hardened else 0o755)
    log = tree / "var/log/mysql/stderr.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [server_bin, f"--defaults-file={cnf}"], stdout=subprocess.DEVNULL, stderr=sink
        )
    instance = DbInstance("mariadb", "", tree, [process])
    try:
        wait_for_port(process, port, log, timeout)
        _plant_mariadb(tree / "run/mysqld/mysqld.sock", hardened)
    except BaseException:
        instance.stop()
        raise
    secret = f":{_quote(STRONG)}" if hardened else ""
    instance.dsn = f"mysql://root{secret}@127.0.0.1:{port}/"
    return instance


def _quote(text: str) -> str:
    return quote(text, safe="")


# --------------------------------------------------------------------------- PostgreSQL

_PG_WEAK_HBA = """\
# written by tests/baseline/db_services.py (weak)
local   all             all                                     trust
host    all             all             127.0.0.1/32            trust
host    all             legacy          127.0.0.1/32            password
host    all             all             0.0.0.0/0               md5
"""
_PG_HARDENED_HBA = """\
# written by tests/baseline/db_services.py (hardened)
local   all             postgres                                peer
hostssl all             all             127.0.0.1/32            scram-sha-256
"""


def _pg_conf(tree: Path, data: Path, port: int, hardened: bool) -> str:
    etc = tree / "etc/postgresql/15/main"
    lines = [
        "# written by tests/baseline/db_services.py",
        f"data_directory = '{data}'",
        f"hba_file = '{etc / 'pg_hba.conf'}'",
        f"ident_file = '{etc / 'pg_ident.conf'}'",
        f"port = {port}",
        "listen_addresses = '127.0.0.1'",
        f"unix_socket_directories = '{tree / 'run/postgresql'}'",
        "max_connections = 20",
        "fsync = off",
        "synchronous_commit = off",
        "full_page_writes = off",
        "include_dir = 'conf.d'",
    ]
    if hardened:
        lines += [
            "password_encryption = scram-sha-256",
            "ssl = on",
            f"ssl_cert_file = '{etc / 'server.crt'}'",
            f"ssl_key_file = '{etc / 'server.key'}'",
        ]
    else:
        lines.append("password_encryption = md5")
    return "\n".join(lines) + "\n"


_PG_HARDENED_LOGGING = """\
# logging for audit (conf.d drop-in, as operators add it)
logging_collector = on
log_directory = 'log'
log_connections = on
log_disconnections = on
log_statement = 'ddl'
log_line_prefix = '%m [%p] %q%u@%d %h '
log_min_duration_statement = 1000
ssl_min_protocol_version = 'TLSv1.2'
"""


def _pg_plant(dsn_kwargs: dict[str, object], hardened: bool) -> None:
    with psycopg.connect(**dsn_kwargs, autocommit=True) as conn:  # type: ignore[arg-type]
        if hardened:
            conn.execute(f"CREATE ROLE app LOGIN PASSWORD '{STRONG}'")
        else:
            conn.execute("CREATE ROLE dba SUPERUSER LOGIN PASSWORD 'dba123'")
            conn.execute("CREATE ROLE legacy LOGIN PASSWORD 'legacy'")
            conn.execute("CREATE ROLE report LOGIN")
            # as clusters upgraded from PostgreSQL 14 and older keep it
            conn.execute("GRANT CREATE ON SCHEMA public TO PUBLIC")


def start_postgres_instance(hardened: bool, timeout: float = 60.0) -> DbInstance:
    """A PostgreSQL cluster configured weak or hardened from ``TREE/etc/postgresql/15/main``."""
    bindir = _bindir()
    tree = _tree("pg")
    etc = tree / "etc/postgresql/15/main"
    data = tree / "var/lib/postgresql/15/main"
    for folder in (etc / "conf.d", tree / "run/postgresql", data.parent):
        folder.mkdir(parents=True)
    uid, gid, demote = _demote_to("postgres")
    _chown_tree([data.parent, tree / "run/postgresql"], uid, gid)
    pwfile = tree / "pwfile"
    pwfile.write_text(STRONG + "\n")
    _chown_tree([pwfile], uid, gid)
    init = [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8"]
    init += ["--locale=C.UTF-8", "--no-sync"]
    if hardened:
        init += ["--auth-local=peer", "--auth-host=scram-sha-256", f"--pwfile={pwfile}"]
    else:
        init += ["--auth=trust", "--allow-group-access"]
    done = subprocess.run(init, capture_output=True, check=False, preexec_fn=demote)
    pwfile.unlink()
    if done.returncode != 0:
        shutil.rmtree(tree, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {done.stderr[-2000:]!r}")
    port = free_port()
    (etc / "postgresql.conf").write_text(_pg_conf(tree, data, port, hardened))
    (etc / "pg_hba.conf").write_text(_PG_HARDENED_HBA if hardened else _PG_WEAK_HBA)
    (etc / "pg_ident.conf").write_text("")
    if hardened:
        (etc / "conf.d/50-audit.conf").write_text(_PG_HARDENED_LOGGING)
        cert, key = _certificate(etc)
        cert.rename(etc / "server.crt")
        key.rename(etc / "server.key")
        (etc / "server.key").chmod(0o600)
        _chown_tree([etc / "server.key"], uid, gid)
        (etc / "pg_hba.conf").chmod(0o640)
        _chown_tree([etc / "pg_hba.conf"], 0, gid)
    log = tree / "postgres.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(bindir / "postgres"), "-c", f"config_file={etc / 'postgresql.conf'}"],
            stdout=subprocess.DEVNULL,
            stderr=sink,
            preexec_fn=demote,  # noqa: PLW1509
        )
    instance = DbInstance("postgresql", "", tree, [process])
    password = STRONG if hardened else ""
    tcp: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "user": "postgres",
        "dbname": "postgres",
        "password": password,
    }
    try:
        wait_for_port(process, port, log, timeout)
        _until_ready(lambda: _pg_plant(tcp, hardened), process, log, timeout)
    except BaseException:
        instance.stop()
        raise
    secret = f":{_quote(password)}" if password else ""
    instance.dsn = f"postgresql://postgres{secret}@127.0.0.1:{port}/postgres"
    return instance


def _until_ready(
    action: Callable[[], None], process: subprocess.Popen[bytes], log: Path, timeout: float
) -> None:
    # The TCP listener opens before recovery ends ("the database system is starting up").
    deadline = time.monotonic() + timeout
    while True:
        try:
            action()
            return
        except psycopg.OperationalError as exc:
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"postgres not ready: {tail}") from exc
            time.sleep(0.1)


# --------------------------------------------------------------------------- Redis


def _redis_conf(tree: Path, port: int, hardened: bool) -> str:
    lines = [
        "# written by tests/baseline/db_services.py",
        f"port {port}",
        "bind 127.0.0.1",
        "daemonize no",
        'save ""',
        "appendonly no",
        f"dir {tree / 'var/lib/redis'}",
    ]
    if hardened:
        lines += [
            "protected-mode yes",
            "timeout 300",
            "maxclients 1000",
            f"logfile {tree / 'var/log/redis/redis-server.log'}",
            "loglevel notice",
            "enable-protected-configs no",
            "enable-debug-command no",
            "enable-module-command no",
            'rename-command FLUSHALL ""',
            'rename-command FLUSHDB ""',
            # the application's account: password, no dangerous or scripting commands
            f"user default on >{STRONG} ~* &* +@all -@dangerous -@scripting",
            # the operators' account (also the one the audit connects with)
            f"user admin on >{STRONG} ~* &* +@all",
        ]
    else:
        lines += [
            "protected-mode no",
            "timeout 0",
            'logfile ""',
            "enable-protected-configs yes",
            "enable-debug-command yes",
            "enable-module-command yes",
        ]
    return "\n".join(lines) + "\n"


def start_redis_instance(hardened: bool, timeout: float = 30.0) -> DbInstance:
    """A redis-server configured weak or hardened from ``TREE/etc/redis/redis.conf``."""
    binary = require_binary("redis-server")
    tree = _tree("redis")
    for folder in ("etc/redis", "var/lib/redis", "var/log/redis"):
        (tree / folder).mkdir(parents=True)
    port = free_port()
    conf = tree / "etc/redis/redis.conf"
    conf.write_text(_redis_conf(tree, port, hardened))
    conf.chmod(0o640 if hardened else 0o644)
    log = tree / "var/log/redis/stderr.log"
    with log.open("wb") as sink:
        process = subprocess.Popen([binary, str(conf)], stdout=sink, stderr=sink)
    instance = DbInstance("redis", "", tree, [process])
    try:
        wait_for_port(process, port, log, timeout)
    except BaseException:
        instance.stop()
        raise
    user = f"admin:{_quote(STRONG)}@" if hardened else ""
    instance.dsn = f"redis://{user}127.0.0.1:{port}/"
    return instance


# --------------------------------------------------------------------------- fixtures

STARTERS: dict[str, Callable[[bool], DbInstance]] = {
    "mariadb": start_mariadb_instance,
    "postgresql": start_postgres_instance,
    "redis": start_redis_instance,
}


@dataclass
class DbPair:
    """The weak and the hardened instance of one server."""

    weak: DbInstance
    hardened: DbInstance


def _start_pair(kind: str) -> DbPair:
    start = STARTERS[kind]
    # The two servers start in parallel: their initialisation dominates the test's time.
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(start_with_retries, lambda h=h: start(h)) for h in (False, True)]
        instances: list[DbInstance] = []
        failure: BaseException | None = None
        for future in futures:
            try:
                instances.append(future.result())
            except BaseException as exc:  # noqa: BLE001 - stop the started one, then re-raise
                failure = failure or exc
    if failure is not None:
        for instance in instances:
            instance.stop()
        raise failure
    return DbPair(weak=instances[0], hardened=instances[1])


def _pair_fixture(kind: str) -> Iterator[DbPair]:
    try:
        pair = _start_pair(kind)
    except ServiceUnavailable as exc:
        pytest.skip(f"{kind} not available here: {exc}")
    yield pair
    pair.weak.stop()
    pair.hardened.stop()


@pytest.fixture(scope="module")
def mariadb_pair() -> Iterator[DbPair]:
    """Weak and hardened MariaDB, once per module."""
    yield from _pair_fixture("mariadb")


@pytest.fixture(scope="module")
def postgres_pair() -> Iterator[DbPair]:
    """Weak and hardened PostgreSQL, once per module."""
    yield from _pair_fixture("postgresql")


@pytest.fixture(scope="module")
def redis_pair() -> Iterator[DbPair]:
    """Weak and hardened Redis, once per module."""
    yield from _pair_fixture("redis")
