"""The SQL injection check (web.sqli): error signatures, the three techniques against real
databases (SQLite in this process and in the vulnerable application, MariaDB and
PostgreSQL through the vulnerable application), and the pages it must not report."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shaobing.web.checks import sqli
from shaobing.web.checks.base import Probe, ScanState, all_check_ids, point_checks
from shaobing.web.client import WebResponse
from shaobing.web.issues import WebIssue, finding_input
from shaobing.web.request import WebRequest
from tests.targets.http import MockHttpTarget
from tests.targets.vulnapp.fixture import VulnApp, mariadb_server, vulnapp, vulnapp_full
from tests.targets.vulnapp.manifest import Entry, load_manifest
from tests.web.helpers import make_state, probe_for
from tests.web.sqli_targets import build_target, entry_request

__all__ = ["mariadb_server", "vulnapp", "vulnapp_full"]

CHECK = sqli.SqlInjectionCheck()
# The manifest's DBMS names and the check's keys.
DBMS_KEY = {"mariadb": "mysql", "postgres": "postgresql"}
# The technique that must prove each manifest class (boolean pages hide errors; the UNION
# pages are LIKE searches whose errors are hidden too: found by the boolean technique).
TECHNIQUE = {
    "sqli-error": "error",
    "sqli-boolean": "boolean",
    "sqli-union": "boolean",
    "sqli-time": "time",
}
# Most requests the check may send on one parameter, baselines included (the module
# docstring's counts: a proof by error 3–5; by boolean 3 + 1 + up to 2 per context tried
# first + 4 + up to 5 to name the DBMS; nothing found 11–13; a time proof at most the
# "nothing found" count plus 3 — with a little room for a context tried in two requests).
MOST_REQUESTS = {"error": 5, "boolean": 16, "time": 16, None: 13}


def _state(url: str, **options: object) -> ScanState:
    state = make_state(url, timeout=10)
    state.options.update({"time_delay": 1, **options})
    return state


def _run(state: ScanState, request: WebRequest, label: str) -> list[WebIssue]:
    return list(CHECK.test(probe_for(state, request, label)))


# --- the data file and the signatures -------------------------------------------------------


def test_data_file_loads_and_importing_registers_the_check() -> None:
    data = sqli.sqli_data()
    assert {"mysql", "postgresql", "mssql", "oracle", "sqlite", "dm", "generic"} <= set(data.dbms)
    assert "web.sqli" in all_check_ids()
    assert any(isinstance(c, sqli.SqlInjectionCheck) for c in point_checks())
    assert CHECK.kinds == ("sqli",)


ERRORS = [
    (
        "mysql",
        'pymysql.err.ProgrammingError: (1064, "You have an error in your SQL syntax; check the '
        "manual that corresponds to your MariaDB server version for the right syntax to use "
        "near ''1'' at line 1\")",
    ),
    (
        "mysql",
        "Warning: mysqli_fetch_assoc() expects parameter 1 to be mysqli_result, bool given "
        "in /var/www/html/news.php on line 12",
    ),
    ("mysql", "java.sql.SQLException: com.mysql.cj.jdbc.exceptions.SQLError at line 3"),
    ("mysql", "Unknown column 'abc' in 'where clause'"),
    ("postgresql", "ERROR:  syntax error at or near \"'\"\nLINE 1: SELECT * FROM t WHERE id = 1'"),
    (
        "postgresql",
        'org.postgresql.util.PSQLException: ERROR: unterminated quoted string at or near "\'"',
    ),
    (
        "postgresql",
        "Warning: pg_query(): Query failed: ERROR:  invalid input syntax for type integer",
    ),
    (
        "mssql",
        "Microsoft OLE DB Provider for SQL Server error '80040e14' Unclosed quotation mark "
        "after the character string ''.",
    ),
    ("mssql", "[Microsoft][ODBC Driver 17 for SQL Server][SQL Server]Incorrect syntax near 'x'."),
    ("mssql", "com.microsoft.sqlserver.jdbc.SQLServerException: Invalid column name 'abc'."),
    ("mssql", "Msg 102, Level 15, State 1, Line 1"),
    ("oracle", "ORA-00933: SQL command not properly ended"),
    ("oracle", "Warning: oci_execute(): ORA-01756: quoted string not properly terminated"),
    ("oracle", "java.sql.SQLSyntaxErrorException: ORA-00907: missing right parenthesis"),
    ("sqlite", 'sqlite3.OperationalError: near "\'": syntax error'),
    ("sqlite", 'PDOException: SQLSTATE[HY000]: General error: 1 unrecognized token: "\'"'),
    ("sqlite", "android.database.sqlite.SQLiteException: no such column: x (code 1 SQLITE_ERROR)"),
    ("dm", "dm.jdbc.driver.DMException: 第1 行附近出现错误:\n语法分析出错"),
    ("dm", "### Cause: java.sql.SQLException: 第 3 行附近出现错误: 字符串未结束"),
    ("dm", "at dm.jdbc.driver.DmdbPreparedStatement.executeQuery(DmdbPreparedStatement.java:1125)"),
    ("generic", "org.springframework.jdbc.BadSqlGrammarException: bad SQL grammar [select]"),
    ("generic", "PDOException: SQLSTATE[07002]: COUNT field incorrect"),
    ("generic", "[ODBC Microsoft Access Driver] Syntax error in query expression 'id = 1''."),
]


@pytest.mark.parametrize(("dbms", "text"), ERRORS)
def test_error_texts_are_attributed_to_their_dbms(dbms: str, text: str) -> None:
    found = sqli.find_errors(text)
    primary = sqli.primary_error(found)
    assert primary is not None, text
    assert primary.dbms == dbms, (primary, text)
    assert primary.excerpt and "\n" not in primary.excerpt


@pytest.mark.parametrize(
    "text",
    [
        "<p>关于做好2024年度政务服务事项梳理工作的通知</p><p>错误代码：404</p>",
        "MySQL 是一种关系型数据库；本站使用 Oracle 与 SQL Server 2019。",
        "We encountered an error near the station. Syntax highlighting is enabled.",
        "ORA-123 is not an Oracle code; PLS-12 neither. Level 15 of the building.",
        "<code>SELECT * FROM t WHERE id = ?</code> 参数化查询示例",
        "",
    ],
)
def test_ordinary_pages_show_no_error_signature(text: str) -> None:
    assert sqli.find_errors(text) == {}


def test_errors_inside_html_entities_and_json_strings_are_read() -> None:
    request = WebRequest("GET", "http://127.0.0.1/")
    escaped = "<pre>sqlite3.OperationalError: near &quot;&#x27;&quot;: syntax error</pre>"
    page = WebResponse(request, 500, [("Content-Type", "text/html")], escaped.encode(), 0.0, "")
    assert set(sqli.response_errors(page)) == {"sqlite"}
    body = json.dumps({"code": 500, "message": 'unrecognized token: "\'"'}).encode()
    api = WebResponse(request, 500, [("Content-Type", "application/json")], body, 0.0, "")
    assert set(sqli.response_errors(api)) == {"sqlite"}


_FRAGMENTS = st.sampled_from(
    [
        'near "',
        '": syntax error',
        "ORA-",
        "0",
        "You have an error in your SQL",
        "[Microsoft][",
        "SQLSTATE[",
        "Warning: ",
        "mysqli_",
        "() ",
        "第",
        "行附近出现错误",
        "Unknown column '",
        "' in '",
        "\n",
        "<",
        ">",
        "'",
        '"',
        " ",
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.text(max_size=40), _FRAGMENTS), max_size=400))
def test_signature_matcher_on_random_text(parts: list[str]) -> None:
    text = "".join(parts)
    started = time.perf_counter()
    found = sqli.find_errors(text)
    assert time.perf_counter() - started < 1.0
    for signature in found.values():
        assert signature.dbms in sqli.sqli_data().dbms
        assert signature.matched and signature.matched in text


@pytest.mark.parametrize(
    "text",
    [
        'near "' * 40_000,
        "Unknown column '" + "a" * 300_000,
        "第" + " " * 100_000,
        "Warning: " * 50_000,
        "<" * 200_000 + "ORA-00933",
    ],
)
def test_signature_matcher_time_is_bounded_on_hostile_text(text: str) -> None:
    started = time.perf_counter()
    sqli.find_errors(text)
    assert time.perf_counter() - started < 1.0


def test_fill_keeps_unknown_fields_and_page_words_cut_reflections() -> None:
    assert sqli.fill("{n}-{unknown}", {"n": "7"}) == "7-{unknown}"
    request = WebRequest("GET", "http://127.0.0.1/?q=x")
    injected = "x' AND 1234=1234 AND 'ab'='ab"
    text = f"<p>{quote(injected)} | {injected.replace(chr(39), '&#x27;')}</p><p>结果</p>"
    page = WebResponse(request, 200, [], text.encode(), 0.0, "")
    assert sqli.page_words(page, injected) == frozenset({"p", "结果"})


CONTEXTS = [
    "SELECT id FROM items WHERE id = 1{p}",
    "SELECT id FROM items WHERE name = 'a{p}'",
    'SELECT id FROM items WHERE name = "a{p}"',
    "SELECT id FROM items WHERE (name = LOWER('a{p}'))",
    "SELECT id FROM items WHERE name LIKE '%a{p}%'",
]


@pytest.mark.parametrize("key", ["mysql", "sqlite"])
def test_delay_payloads_run_once_in_every_context_without_widening(key: str) -> None:
    # SQLite parses the MySQL payload too once it has a SLEEP function: the payload must be
    # valid in numeric, quoted, parenthesised and LIKE contexts, call SLEEP once per
    # statement, and return the original row or nothing.
    conn = sqlite3.connect(":memory:")
    calls: list[float] = []

    def sleep(seconds: float) -> int:
        calls.append(seconds)
        return 0

    conn.create_function("SLEEP", 1, sleep)
    conn.execute("CREATE TABLE items (id INTEGER, name TEXT)")
    conn.executemany("INSERT INTO items VALUES (?, ?)", [(1, "a"), (2, "b"), (3, "c")])
    tokens = {"n": "1234", "m": "5678", "w": "abcd", "x": "efgh"}
    payload = sqli.time_payload(key, 0.001, tokens)
    for context in CONTEXTS:
        original = set(conn.execute(context.replace("{p}", "")).fetchall())
        calls.clear()
        rows = set(conn.execute(context.replace("{p}", payload)).fetchall())
        assert rows <= original, context
        if key == "mysql":
            assert len(calls) == 1, context


def test_a_quote_before_the_comment_of_a_delay_payload_is_refused() -> None:
    data = sqli.sqli_data().model_dump()
    data["time"]["families"]["oracle"]["parts"]["s"] = "(SELECT DBMS_PIPE('x',{d}) FROM DUAL)"
    with pytest.raises(ValueError, match="quote before the comment"):
        sqli.SqliData.model_validate(data)


# --- in-process SQLite pages ------------------------------------------------------------------


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockHttpTarget]:
    with build_target(tmp_path_factory.mktemp("sqli")) as running:
        yield running


@pytest.mark.parametrize(
    ("path", "label", "technique", "context"),
    [
        ("/paren?name=alpha", "query:name", "boolean", "single-paren"),
        ("/double?name=alpha", "query:name", "boolean", "double"),
        ("/numeric-blind?id=1", "query:id", "boolean", "numeric"),
        ("/string-error?name=alpha", "query:name", "error", "single"),
    ],
)
def test_contexts_of_in_process_sqlite_pages(
    target: MockHttpTarget, path: str, label: str, technique: str, context: str
) -> None:
    state = _state(target.url)
    [issue] = _run(state, WebRequest("GET", target.url + path), label)
    assert issue.kind == "sqli" and issue.parameter == label
    assert issue.extra["technique"] == [technique]
    assert issue.extra["context"] == context
    assert issue.extra["dbms"] == "sqlite"
    assert state.client.requests <= MOST_REQUESTS[technique]
    assert issue.detail.startswith("URL 参数 ") and "\n" not in issue.detail


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("/safe/numeric?id=1", "query:id"),
        ("/safe/string?name=alpha", "query:name"),
        ("/static-error?id=1", "query:id"),
        ("/typed-error?id=1", "query:id"),
        ("/random?id=1", "query:id"),
        ("/echo?q=" + quote("指南"), "query:q"),
    ],
)
def test_look_alikes_are_not_reported(target: MockHttpTarget, path: str, label: str) -> None:
    state = _state(target.url)
    assert _run(state, WebRequest("GET", target.url + path), label) == []
    assert state.client.requests <= MOST_REQUESTS[None]


def test_a_filter_that_slows_every_delay_payload_is_not_reported(target: MockHttpTarget) -> None:
    # The delay does not follow the payload (delay 0 is as slow as delay 1): no proof.
    state = _state(target.url, sqli_dbms="mysql")
    request = WebRequest("GET", target.url + "/tarpit?id=1")
    before = len(target.seen)
    assert _run(state, request, "query:id") == []
    slow = [r for r in target.seen[before:] if "SLEEP" in r.target]
    assert len(slow) == 2  # delay D, then delay 0 — the 2·D request is never sent


def test_time_based_is_skipped_when_disabled_and_bad_options_are_refused(
    target: MockHttpTarget,
) -> None:
    request = WebRequest("GET", target.url + "/safe/numeric?id=1")
    state = _state(target.url, time_based=0)
    before = len(target.seen)
    assert _run(state, request, "query:id") == []
    assert not any("SLEEP" in r.target for r in target.seen[before:])
    with pytest.raises(ValueError, match="sqli_dbms"):
        _run(_state(target.url, sqli_dbms="nosuchdb"), request, "query:id")
    with pytest.raises(ValueError, match="time_delay"):
        _run(_state(target.url, time_delay=0), request, "query:id")


def test_issue_becomes_a_finding_with_evidence(target: MockHttpTarget) -> None:
    state = _state(target.url)
    [issue] = _run(state, WebRequest("GET", target.url + "/string-error?name=alpha"), "query:name")
    finding = finding_input(issue)
    assert finding.check_id == "web.sqli" and finding.parameter == "query:name"
    assert finding.cwe_ids == [89] and finding.severity.value == "critical"
    evidence = finding.evidence or ""
    assert "错误注入" in evidence and "sqlite3.OperationalError" in evidence
    assert "复现命令" in evidence and finding.extra["technique"] == ["error"]


# --- the vulnerable application: every SQL injection entry of the manifest --------------------

ENTRIES = [e for e in load_manifest().entries if e.vuln_class.startswith("sqli-")]


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.id)
def test_manifest_entry(request: pytest.FixtureRequest, entry: Entry) -> None:
    app: VulnApp = request.getfixturevalue("vulnapp_full" if entry.requires else "vulnapp")
    if not entry.available(app.backends):
        pytest.skip(f"needs {entry.requires}")
    state = _state(app.url)
    web_request, point = entry_request(app.url, entry)
    issues = list(CHECK.test(Probe(state, web_request, point)))
    if not entry.vulnerable:
        assert issues == [], [i.detail for i in issues]
        assert state.client.requests <= MOST_REQUESTS[None]
        return
    [issue] = issues
    technique = TECHNIQUE[entry.vuln_class]
    assert issue.kind == "sqli"
    assert issue.parameter == f"{entry.location}:{entry.parameter}"
    assert issue.method == entry.method and issue.url == web_request.url
    assert issue.extra["technique"] == [technique], issue.detail
    assert issue.extra["dbms"] == DBMS_KEY.get(str(entry.dbms), entry.dbms), issue.detail
    assert issue.request is not None and issue.response is not None
    assert state.client.requests <= MOST_REQUESTS[technique]
    if technique == "time":
        slow, fast, slower = issue.extra["durations_seconds"]
        assert slow > 0.8 and fast < 0.5 and slower > 1.6


def test_payloads_never_widen_the_result(target: MockHttpTarget) -> None:
    # Every value the check sends to a numeric parameter, run in the page's own statement,
    # either fails, keeps the original row or returns nothing: an AND-only design cannot
    # make an UPDATE or DELETE reach more rows than the original value would.
    state = _state(target.url)
    before = len(target.seen)
    _run(state, WebRequest("GET", target.url + "/safe/numeric?id=1"), "query:id")
    values = [r.query.get("id", [""])[0] for r in target.seen[before:]]
    assert len(values) >= 10
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE items (id INTEGER, name TEXT)")
    conn.executemany("INSERT INTO items VALUES (?, ?)", [(1, "a"), (2, "b"), (3, "c")])
    original = set(conn.execute("SELECT id FROM items WHERE id = 1").fetchall())
    ran = 0
    for value in values:
        for statement in (
            f"SELECT id FROM items WHERE id = {value}",
            f"SELECT id FROM items WHERE name = '{value}'",
        ):
            try:
                rows = set(conn.execute(statement).fetchall())
            except sqlite3.Error:
                continue
            ran += 1
            assert rows <= original, statement
    assert ran >= 5
