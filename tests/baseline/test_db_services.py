"""Database profiles against real MariaDB, PostgreSQL and Redis (weak and hardened, C1/C2).

Each server runs on 127.0.0.1 with its configuration in a small tree
(``tests/baseline/db_services.py``); the check connects through the DSN and reads the same
tree with ``--root``, so both the SQL and the configuration-file parts of the rules are
exercised. A rule must fail on the weak server and pass on the hardened one, and ``observed``
must quote the value the server really has.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shaobing.baseline.service import Access, report_json, run_check
from shaobing.core.settings import reset_settings
from tests.baseline.db_services import DbInstance, DbPair, mariadb_pair, postgres_pair, redis_pair
from tests.conftest import CliRunner

__all__ = ["mariadb_pair", "postgres_pair", "redis_pair"]

Results = dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def isolated_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A throw-away SHAOBING_HOME so no organisation rule file changes the profiles."""
    home = tmp_path_factory.mktemp("home")
    patch = pytest.MonkeyPatch()
    patch.setenv("SHAOBING_HOME", str(home))
    reset_settings()
    yield home
    patch.undo()
    reset_settings()


def _check(profile: str, instance: DbInstance, **access: Any) -> Results:
    """``baseline check`` through the service API: DSN plus the instance's tree."""
    access.setdefault("root", instance.tree)
    outcome = run_check(
        None,
        profile_name=profile,
        targets=[instance.dsn],
        access=Access(**access),
        engagement_ref=None,
        variables={},
    )
    (report,) = outcome.reports
    data = report_json(report)
    assert data["profile"] == profile
    return {item["rule_id"]: item for item in data["results"]}


@pytest.fixture(scope="module")
def mysql_results(isolated_home: Path, mariadb_pair: DbPair) -> tuple[Results, Results]:
    """The mysql profile on the weak and the hardened MariaDB."""
    return _check("mysql", mariadb_pair.weak), _check("mysql", mariadb_pair.hardened)


@pytest.fixture(scope="module")
def postgresql_results(isolated_home: Path, postgres_pair: DbPair) -> tuple[Results, Results]:
    """The postgresql profile on the weak and the hardened cluster."""
    return _check("postgresql", postgres_pair.weak), _check("postgresql", postgres_pair.hardened)


@pytest.fixture(scope="module")
def redis_results(isolated_home: Path, redis_pair: DbPair) -> tuple[Results, Results]:
    """The redis profile on the weak and the hardened instance."""
    return _check("redis", redis_pair.weak), _check("redis", redis_pair.hardened)


def _verdicts(
    results: tuple[Results, Results], rule_id: str, weak_quote: str, hardened_quote: str
) -> None:
    weak, hardened = results
    assert weak[rule_id]["status"] == "fail", weak[rule_id]
    assert weak_quote in weak[rule_id]["observed"], weak[rule_id]
    assert hardened[rule_id]["status"] == "pass", hardened[rule_id]
    assert hardened_quote in hardened[rule_id]["observed"], hardened[rule_id]


# (rule, text quoted from the weak server, text quoted from the hardened server)
MYSQL_CASES = [
    ("mysql.account.remote-root", "'root'@'%'", "查询无结果"),
    ("mysql.account.anonymous", "''@'build-host'", "查询无结果"),
    ("mysql.account.empty-password", "'root'@'localhost'", "查询无结果"),
    ("mysql.password.min-length", "查询无结果", "simple_password_check_minimal_length, Value=12"),
    ("mysql.password.complexity", "查询无结果", "simple_password_check_digits, Value=1"),
    ("mysql.auth.login-failure", "Value=4294967295", "max_password_errors, Value=5"),
    ("mysql.database.test", "数据库 test", "查询无结果"),
    ("mysql.config.local-infile", "local-infile = 1", "local-infile = 0"),
    ("mysql.config.secure-file-priv", 'secure-file-priv = ""', "/var/lib/mysql-files"),
    ("mysql.config.symbolic-links", "symbolic-links = 1", "have_symlink, Value=DISABLED"),
    ("mysql.audit.enabled", "general_log, Value=OFF", "server_audit_logging, Value=ON"),
    ("mysql.log.error-log", "log_error, Value=", "/var/log/mysql/error.log"),
    ("mysql.tls.enabled", "have_ssl, Value=DISABLED", "have_ssl, Value=YES"),
    ("mysql.tls.require-secure-transport", "'app'@'%'", "require_secure_transport, Value=ON"),
    ("mysql.network.skip-name-resolve", "skip_name_resolve, Value=OFF", "skip-name-resolve"),
    ("mysql.privilege.admin-privileges", "privileges=SUPER,FILE", "查询无结果"),
    ("mysql.network.max-connect-errors", "Value=1000000", "max_connect_errors, Value=100"),
    ("mysql.file.datadir", "/var/lib/mysql 0755", "/var/lib/mysql 0750 mysql:"),
]


@pytest.mark.parametrize(("rule_id", "weak_quote", "hardened_quote"), MYSQL_CASES)
def test_mariadb(
    mysql_results: tuple[Results, Results], rule_id: str, weak_quote: str, hardened_quote: str
) -> None:
    """Weak MariaDB fails the rule, hardened passes, both quoting what the server has."""
    _verdicts(mysql_results, rule_id, weak_quote, hardened_quote)


def test_mariadb_tls_protocols_follow_ssl(mysql_results: tuple[Results, Results]) -> None:
    """The protocol rule does not apply without TLS and passes with TLS 1.2+ only."""
    weak, hardened = mysql_results
    assert weak["mysql.tls.protocols"]["status"] == "na"
    assert hardened["mysql.tls.protocols"]["status"] == "pass"
    assert "TLSv1.2,TLSv1.3" in hardened["mysql.tls.protocols"]["observed"]
    # MariaDB is not MySQL 8: the caching_sha2 rule says so instead of guessing
    assert hardened["mysql.auth.native-password-mysql8"]["status"] == "na"


def test_mariadb_dsn_only_skips_file_rules(isolated_home: Path, mariadb_pair: DbPair) -> None:
    """Without a host collector the file-only rule is 不适用, SQL rules still decide."""
    results = _check("mysql", mariadb_pair.weak, root=None)
    assert results["mysql.file.datadir"]["status"] == "na"
    local_infile = results["mysql.config.local-infile"]
    assert local_infile["status"] == "fail"
    assert "local_infile, Value=ON" in local_infile["observed"]
    assert "my.cnf" not in local_infile["observed"]


def test_mariadb_offline_tree_without_dsn(isolated_home: Path, mariadb_pair: DbPair) -> None:
    """An offline copy of the configuration alone: file variants decide, SQL rules are 不适用."""
    outcome = run_check(
        None,
        profile_name="mysql",
        targets=[None],
        access=Access(root=mariadb_pair.weak.tree),
        engagement_ref=None,
        variables={},
    )
    results = {r.rule_id: r for r in outcome.reports[0].results}
    assert results["mysql.account.remote-root"].status.value == "na"
    assert results["mysql.config.local-infile"].status.value == "fail"
    assert "/etc/mysql/my.cnf" in results["mysql.config.local-infile"].observed
    assert results["mysql.network.bind-address"].status.value == "pass"


POSTGRESQL_CASES = [
    ("postgresql.auth.password-encryption", "setting=md5", "setting=scram-sha-256"),
    ("postgresql.auth.md5-hashes", "rolname=dba, stored_as=md5", "查询无结果"),
    ("postgresql.hba.trust", "auth_method=trust", "未发现匹配的配置行"),
    ("postgresql.hba.password-method", "user_name=legacy", "查询无结果"),
    ("postgresql.hba.open-network", "netmask=0.0.0.0, auth_method=md5", "查询无结果"),
    ("postgresql.ssl.enabled", "ssl, setting=off", "ssl = on"),
    ("postgresql.log.persistent", "logging_collector, setting=off", "setting=on"),
    ("postgresql.log.connections", "log_connections, setting=off", "conf.d/50-audit.conf"),
    ("postgresql.log.disconnections", "log_disconnections, setting=off", "setting=on"),
    ("postgresql.log.statement", "log_statement, setting=none", "log_statement = 'ddl'"),
    ("postgresql.log.line-prefix", "setting=%m [%p] ", "%q%u@%d %h"),
    ("postgresql.log.min-duration", "setting=-1", "setting=1000"),
    ("postgresql.role.superusers", "rolname=dba", "查询无结果"),
    ("postgresql.privilege.public-schema-create", "schema=public", "查询无结果"),
    ("postgresql.file.datadir", "data_directory_mode, setting=0750", "15/main 0700 postgres:"),
    ("postgresql.file.hba-mode", "pg_hba.conf 0644", "pg_hba.conf 0640"),
]


@pytest.mark.parametrize(("rule_id", "weak_quote", "hardened_quote"), POSTGRESQL_CASES)
def test_postgresql(
    postgresql_results: tuple[Results, Results],
    rule_id: str,
    weak_quote: str,
    hardened_quote: str,
) -> None:
    """Weak cluster fails the rule, hardened passes, both quoting what the server has."""
    _verdicts(postgresql_results, rule_id, weak_quote, hardened_quote)


def test_postgresql_tls_protocol(postgresql_results: tuple[Results, Results]) -> None:
    """The TLS floor is only judged where TLS is on."""
    weak, hardened = postgresql_results
    assert weak["postgresql.ssl.min-protocol"]["status"] == "na"
    assert hardened["postgresql.ssl.min-protocol"]["status"] == "pass"
    assert "TLSv1.2" in hardened["postgresql.ssl.min-protocol"]["observed"]


REDIS_CASES = [
    ("redis.auth.password", "user default on nopass", "user admin on"),
    ("redis.network.protected-mode", "protected-mode no", "protected-mode, value=yes"),
    ("redis.command.config", "value=OK", "no permissions to run the 'config|set' command"),
    ("redis.command.flush", "value=flushall", "查询无结果：COMMAND LIST FILTERBY PATTERN flushall"),
    ("redis.command.keys", "value=keys", "no permissions to run the 'keys' command"),
    ("redis.command.shutdown", "value=shutdown", "no permissions to run the 'shutdown' command"),
    ("redis.command.eval", "value=eval", "no permissions to run the 'eval' command"),
    ("redis.config.protected-configs", "enable-module-command, value=yes", "value=no"),
    ("redis.limits.timeout", "timeout, value=0", "timeout, value=300"),
    ("redis.log.logfile", 'logfile ""', "redis-server.log"),
    ("redis.file.conf-mode", "redis.conf 0644", "redis.conf 0640"),
]


@pytest.mark.parametrize(("rule_id", "weak_quote", "hardened_quote"), REDIS_CASES)
def test_redis(
    redis_results: tuple[Results, Results], rule_id: str, weak_quote: str, hardened_quote: str
) -> None:
    """Weak Redis fails the rule, hardened passes, both quoting what the server has."""
    _verdicts(redis_results, rule_id, weak_quote, hardened_quote)


def test_redis_root_process_seen_on_live_host(isolated_home: Path, redis_pair: DbPair) -> None:
    """With the local host as file source, root-owned redis-server processes are named."""
    if os.geteuid() != 0:
        pytest.skip("the weak instance runs as root only when the tests do")
    results = _check("redis", redis_pair.weak, root=None, files_from="local")
    rule = results["redis.process.not-root"]
    assert rule["status"] == "fail", rule
    # the weak instance runs as root; other root instances on this host may be listed first
    assert re.search(r"root\s+\d+ \S*redis-server ", rule["observed"]), rule


def test_cli_json_for_database_target(cli: CliRunner, redis_pair: DbPair) -> None:
    """The CLI writes the issue's JSON shape for a DSN target with --root."""
    weak = redis_pair.weak
    result = cli(
        "baseline",
        "check",
        "--profile",
        "redis",
        "--target",
        weak.dsn,
        "--root",
        str(weak.tree),
        "--json",
        "-",
    )
    data = json.loads(result.out)
    assert data["profile"] == "redis"
    assert data["target"].startswith("redis://127.0.0.1:")
    by_id = {item["rule_id"]: item for item in data["results"]}
    assert by_id["redis.auth.password"]["status"] == "fail"
    assert by_id["redis.auth.password"]["references"]["gb22239"] == ["8.1.4.1"]
    assert by_id["redis.network.protected-mode"]["expected"] == "protected-mode yes"
