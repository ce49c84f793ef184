"""The three real databases behind the site: SQLite (always), MariaDB and PostgreSQL.

Every request opens its own connection (simple and thread-safe under the thread pool).
Statement time is capped so an injected ``SLEEP(600)`` cannot hold a worker for long.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pymysql

from tests.targets.vulnapp.config import AppConfig, Dsn

#: Longest a single statement may run (seconds).
STATEMENT_TIMEOUT = 20

NOTICES = [
    (1, "关于做好2024年度政务服务事项梳理工作的通知", "各区县、各部门：为进一步优化营商环境……"),
    (2, "云州市政务服务中心春节期间工作安排", "春节期间（2月10日至2月17日）暂停窗口服务……"),
    (3, "关于开展“一网通办”满意度调查的公告", "为持续提升政务服务水平，现开展满意度调查……"),
]
POLICIES = [
    (1, "云州市优化营商环境条例", "第一条 为了持续优化营商环境，激发市场主体活力……"),
    (2, "云州市政务数据共享管理办法", "第一条 为规范政务数据共享工作，提升数据利用水平……"),
    (3, "云州市企业开办全程网办实施细则", "第一条 为进一步压减企业开办时间……"),
]
ARTICLES = [
    ("营业执照办理指南", "2024-03-01"),
    ("不动产登记办理指南", "2024-02-18"),
    ("社保卡申领办理指南", "2024-01-09"),
    ("公积金提取办理指南", "2023-12-20"),
]
CASES = [
    ("YZ2024030100001", "已受理"),
    ("YZ2024030100002", "审核中"),
    ("YZ2024030100003", "已办结"),
]
USERS = [
    (1, "admin", "系统管理员", "13800000001", "管理员"),
    (2, "zhangsan", "张三", "13800000002", "窗口人员"),
    (3, "lisi", "李四", "13800000003", "审核人员"),
]


@dataclass(frozen=True)
class Backend:
    """One database: how to connect and how its placeholders look."""

    name: str
    sqlite_path: Path | None = None
    dsn: Dsn | None = None

    @property
    def placeholder(self) -> str:
        """The DB-API parameter marker of the driver."""
        return "?" if self.name == "sqlite" else "%s"

    def connect(self) -> Any:
        """A new DB-API connection (autocommit)."""
        if self.name == "sqlite":
            assert self.sqlite_path is not None
            conn = sqlite3.connect(self.sqlite_path, timeout=STATEMENT_TIMEOUT)
            conn.isolation_level = None
            return conn
        assert self.dsn is not None
        if self.name == "mariadb":
            return pymysql.connect(
                host=self.dsn.host,
                port=self.dsn.port,
                user=self.dsn.user,
                password=self.dsn.password,
                database=self.dsn.database,
                charset="utf8mb4",
                autocommit=True,
                connect_timeout=5,
                read_timeout=STATEMENT_TIMEOUT,
            )
        return psycopg.connect(
            host=self.dsn.host,
            port=self.dsn.port,
            user=self.dsn.user,
            password=self.dsn.password or None,
            dbname=self.dsn.database,
            autocommit=True,
            connect_timeout=5,
            options=f"-c statement_timeout={STATEMENT_TIMEOUT * 1000}",
        )

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement and return its rows (empty for statements without any).

        Without ``params`` the text goes to the server as it is (no placeholder parsing),
        which is what the careless handlers rely on.
        """
        conn = self.connect()
        try:
            cur = conn.cursor()
            try:
                if params is None:
                    cur.execute(sql)
                else:
                    cur.execute(sql, tuple(params))
                return list(cur.fetchall()) if cur.description else []
            finally:
                cur.close()
        finally:
            conn.close()

    def script(self, statements: Sequence[str]) -> None:
        """Run ``statements`` one after the other on one connection."""
        conn = self.connect()
        try:
            cur = conn.cursor()
            for statement in statements:
                cur.execute(statement)
            cur.close()
        finally:
            conn.close()


def _schema(backend: Backend) -> list[str]:
    table_suffix = " DEFAULT CHARSET=utf8mb4" if backend.name == "mariadb" else ""
    serial = {
        "sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "mariadb": "INTEGER PRIMARY KEY AUTO_INCREMENT",
        "postgres": "SERIAL PRIMARY KEY",
    }[backend.name]
    tables = {
        "notices": "id INTEGER PRIMARY KEY, title VARCHAR(200), content TEXT",
        "policies": "id INTEGER PRIMARY KEY, title VARCHAR(200), content TEXT",
        "articles": "title VARCHAR(200), publish_date VARCHAR(20)",
        "cases": "case_no VARCHAR(40), status VARCHAR(40)",
        "guestbook": f"id {serial}, name VARCHAR(100), content TEXT, created VARCHAR(40)",
        "guestbook_v2": f"id {serial}, name VARCHAR(100), content TEXT, created VARCHAR(40)",
        "users": "id INTEGER PRIMARY KEY, username VARCHAR(50), real_name VARCHAR(50), "
        "phone VARCHAR(20), role VARCHAR(20)",
    }
    statements: list[str] = []
    for name, columns in tables.items():
        statements.append(f"DROP TABLE IF EXISTS {name}")
        statements.append(f"CREATE TABLE {name} ({columns}){table_suffix}")
    return statements


def seed(backend: Backend) -> None:
    """(Re)create the tables of ``backend`` and fill them with the sample rows."""
    backend.script(_schema(backend))
    mark = backend.placeholder
    conn = backend.connect()
    try:
        cur = conn.cursor()
        rows: dict[str, list[tuple[Any, ...]]] = {
            "notices": list(NOTICES),
            "policies": list(POLICIES),
            "articles": list(ARTICLES),
            "cases": list(CASES),
            "users": list(USERS),
            "guestbook": [("市民王先生", "办事大厅服务很周到，点赞！", "2024-03-01 09:12")],
            "guestbook_v2": [("市民王先生", "办事大厅服务很周到，点赞！", "2024-03-01 09:12")],
        }
        columns = {
            "guestbook": "(name, content, created)",
            "guestbook_v2": "(name, content, created)",
        }
        for table, values in rows.items():
            marks = ", ".join([mark] * len(values[0]))
            cur.executemany(
                f"INSERT INTO {table} {columns.get(table, '')} VALUES ({marks})", values
            )
        cur.close()
    finally:
        conn.close()


def open_backends(config: AppConfig) -> dict[str, Backend]:
    """Connect to and seed every configured database."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    backends = {"sqlite": Backend("sqlite", sqlite_path=config.data_dir / "vulnapp.sqlite3")}
    if config.mysql is not None:
        backends["mariadb"] = Backend("mariadb", dsn=config.mysql)
    if config.postgres is not None:
        backends["postgres"] = Backend("postgres", dsn=config.postgres)
    for backend in backends.values():
        seed(backend)
    return backends
