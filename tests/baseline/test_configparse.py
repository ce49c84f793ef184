"""Configuration parsers read settings the way the programs do (includes, sections, blocks).

Files are real files in a tree read through the TreeCollector; the fuzz tests feed arbitrary
text through an in-memory file table, since they only exercise the parsers.
"""

from __future__ import annotations

import asyncio
import fnmatch
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shaobing.baseline.collectors.filesystem import TreeCollector
from shaobing.baseline.configparse import (
    MAX_FILES,
    MAX_INCLUDE_DEPTH,
    Entry,
    parse_apache,
    parse_equals,
    parse_ini,
    parse_nginx,
    parse_space,
    unquote,
)

Parser = Callable[[list[str], TreeCollector], Coroutine[Any, Any, list[Entry]]]


def make_tree(root: Path, files: dict[str, str]) -> TreeCollector:
    """A tree holding ``files`` (path → text)."""
    for path, text in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return TreeCollector(root)


def pairs(entries: list[Entry]) -> list[tuple[str, str]]:
    """(key, value) of each entry in order."""
    return [(e.key, e.value) for e in entries]


def space(host: TreeCollector, path: str, include: str | None = "Include") -> list[Entry]:
    """sshd-style parse of ``path``."""
    return asyncio.run(parse_space([path], host.text, host.glob, include))


# ---- space (sshd_config) ------------------------------------------------------------------


def test_sshd_include_at_top_makes_drop_ins_win(tmp_path: Path) -> None:
    # Debian 12 / Ubuntu: the Include line comes first, so a drop-in overrides the main file
    host = make_tree(
        tmp_path,
        {
            "/etc/ssh/sshd_config": "# comment\nInclude /etc/ssh/sshd_config.d/*.conf\n\n"
            "PasswordAuthentication no\nPermitRootLogin=no\n",
            "/etc/ssh/sshd_config.d/50-cloud-init.conf": "PasswordAuthentication yes\n",
            "/etc/ssh/sshd_config.d/10-early.conf": "  PermitRootLogin\tyes  \n",
            "/etc/ssh/sshd_config.d/ignored.txt": "PermitRootLogin maybe\n",
        },
    )
    entries = space(host, "/etc/ssh/sshd_config")
    assert pairs(entries) == [
        ("PermitRootLogin", "yes"),
        ("PasswordAuthentication", "yes"),
        ("PasswordAuthentication", "no"),
        ("PermitRootLogin", "no"),
    ]
    first = entries[0]
    assert (first.file, first.line) == ("/etc/ssh/sshd_config.d/10-early.conf", 1)
    assert first.where() == "/etc/ssh/sshd_config.d/10-early.conf:1: PermitRootLogin\tyes"


def test_sshd_relative_include_is_relative_to_the_config_dir(tmp_path: Path) -> None:
    host = make_tree(
        tmp_path,
        {
            "/etc/ssh/sshd_config": 'Include "sshd_config.d/*.conf" extra.conf\nX11Forwarding no\n',
            "/etc/ssh/sshd_config.d/a.conf": "X11Forwarding yes\n",
            "/etc/ssh/extra.conf": "MaxAuthTries 3\n",
        },
    )
    assert pairs(space(host, "/etc/ssh/sshd_config")) == [
        ("X11Forwarding", "yes"),
        ("MaxAuthTries", "3"),
        ("X11Forwarding", "no"),
    ]


def test_sshd_match_ends_the_global_section(tmp_path: Path) -> None:
    host = make_tree(
        tmp_path,
        {
            "/etc/ssh/sshd_config": "PermitRootLogin no\nMatch User backup\n"
            "  PermitRootLogin yes\n  PasswordAuthentication yes\nMaxAuthTries 3\n",
        },
    )
    assert pairs(space(host, "/etc/ssh/sshd_config")) == [("PermitRootLogin", "no")]


def test_sshd_match_in_a_drop_in_ends_with_that_file(tmp_path: Path) -> None:
    # what `sshd -T` reports for this layout: the main file's later lines still apply
    host = make_tree(
        tmp_path,
        {
            "/etc/ssh/sshd_config": "Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin yes\n",
            "/etc/ssh/sshd_config.d/10.conf": (
                "MaxAuthTries 3\nMatch User bob\n  X11Forwarding no\n"
            ),
            "/etc/ssh/sshd_config.d/20.conf": "MaxSessions 4\n",
        },
    )
    assert pairs(space(host, "/etc/ssh/sshd_config")) == [
        ("MaxAuthTries", "3"),
        ("MaxSessions", "4"),
        ("PermitRootLogin", "yes"),
    ]


def test_space_without_include_directive_keeps_include_as_a_key(tmp_path: Path) -> None:
    host = make_tree(tmp_path, {"/etc/login.defs": "PASS_MAX_DAYS\t99999\nInclude x\n"})
    assert pairs(space(host, "/etc/login.defs", include=None)) == [
        ("PASS_MAX_DAYS", "99999"),
        ("Include", "x"),
    ]


def test_colon_syntax(tmp_path: Path) -> None:
    host = make_tree(tmp_path, {"/etc/x.yml": "# c\nbind: 127.0.0.1\nport:6379\nflag\n"})
    entries = asyncio.run(parse_space(["/etc/x.yml"], host.text, host.glob, None, sep=":"))
    assert pairs(entries) == [("bind", "127.0.0.1"), ("port", "6379"), ("flag", "")]


# ---- equals (sysctl, pwquality, postgresql.conf) -----------------------------------------


def test_equals_inline_comments_and_quotes(tmp_path: Path) -> None:
    host = make_tree(
        tmp_path,
        {
            "/etc/app.conf": "# c\n; c\nminlen = 12   # at least 12\nlog_line_prefix = '%m # %p'\n"
            "path=/a#b\ndcredit -1\nempty =\n",
        },
    )
    entries = asyncio.run(parse_equals(["/etc/app.conf"], host.text, host.glob, None))
    assert pairs(entries) == [
        ("minlen", "12"),
        ("log_line_prefix", "%m # %p"),
        ("path", "/a#b"),
        ("dcredit", "-1"),
        ("empty", ""),
    ]
    assert entries[0].line == 3


@pytest.mark.parametrize(
    "directive",
    [
        "include 'extra.conf'",
        "include = 'extra.conf'",
        "include='extra.conf'",
        "INCLUDE extra.conf",
    ],
)
def test_postgresql_include_forms(tmp_path: Path, directive: str) -> None:
    host = make_tree(
        tmp_path,
        {
            "/etc/postgresql/16/main/postgresql.conf": f"ssl = off\n{directive}  # more\n"
            "log_connections = on\n",
            "/etc/postgresql/16/main/extra.conf": "ssl = on\n",
        },
    )
    entries = asyncio.run(
        parse_equals(
            ["/etc/postgresql/16/main/postgresql.conf"],
            host.text,
            host.glob,
            "include|include_dir|include_if_exists",
        )
    )
    # the included value sits where the include line is: later lines still override it
    assert pairs(entries) == [("ssl", "off"), ("ssl", "on"), ("log_connections", "on")]
    assert entries[1].file == "/etc/postgresql/16/main/extra.conf"


def test_postgresql_include_dir_and_if_exists(tmp_path: Path) -> None:
    host = make_tree(
        tmp_path,
        {
            "/etc/postgresql/16/main/postgresql.conf": "password_encryption = md5\n"
            "include_dir 'conf.d'\ninclude_if_exists '/nowhere/x.conf'\n",
            "/etc/postgresql/16/main/conf.d/20-b.conf": "password_encryption = scram-sha-256\n",
            "/etc/postgresql/16/main/conf.d/10-a.conf": "ssl = on\n",
            "/etc/postgresql/16/main/conf.d/notes.txt": "ssl = off\n",
        },
    )
    entries = asyncio.run(
        parse_equals(
            ["/etc/postgresql/16/main/postgresql.conf"],
            host.text,
            host.glob,
            "include|include_dir|include_if_exists",
        )
    )
    assert pairs(entries) == [
        ("password_encryption", "md5"),
        ("ssl", "on"),
        ("password_encryption", "scram-sha-256"),
    ]


# ---- ini (my.cnf) -------------------------------------------------------------------------


def test_ini_sections_includes_and_dash_underscore(tmp_path: Path) -> None:
    host = make_tree(
        tmp_path,
        {
            "/etc/mysql/my.cnf": "[client]\nport = 3306\n\n[mysqld]\nlocal-infile = 1 # on\n"
            "!includedir /etc/mysql/conf.d/\n!include /etc/mysql/extra.cnf\n",
            "/etc/mysql/conf.d/a.cnf": "[MySQLd]\nlocal_infile=0 ; off\nskip-networking\n",
            "/etc/mysql/conf.d/b.ini": "[mysqld]\nlocal_infile=2\n",
            "/etc/mysql/extra.cnf": '[mysqld]\nlog_error = "/var/log/my.err"\n',
        },
    )
    entries = asyncio.run(parse_ini(["/etc/mysql/my.cnf"], host.text, host.glob))
    assert [(e.section, e.key, e.value) for e in entries] == [
        ("client", "port", "3306"),
        ("mysqld", "local_infile", "1"),
        ("mysqld", "local_infile", "0"),
        ("mysqld", "skip_networking", ""),
        ("mysqld", "log_error", "/var/log/my.err"),
    ]


# ---- nginx --------------------------------------------------------------------------------


def test_nginx_blocks_quotes_comments_and_includes(tmp_path: Path) -> None:
    host = make_tree(
        tmp_path,
        {
            "/etc/nginx/nginx.conf": (
                "user www-data;\n"
                "events { worker_connections 768; }\n"
                "http {\n"
                "    server_tokens off; # } not a block end\n"
                "    include mime.types;\n"
                "    include /etc/nginx/conf.d/*.conf;\n"
                "    include sites-enabled/*;\n"
                "}\n"
            ),
            "/etc/nginx/mime.types": "types { text/html html; }\n",
            "/etc/nginx/conf.d/security.conf": 'add_header X-Frame-Options "SAMEORIGIN" always;\n',
            "/etc/nginx/sites-enabled/default": (
                "server {\n"
                "    listen 443 ssl;\n"
                "    ssl_protocols TLSv1.2\n        TLSv1.3;\n"
                "    location / {\n"
                "        autoindex on;\n"
                "        return 200 'a;b{c}';\n"
                "    }\n"
                "}\n"
            ),
        },
    )
    entries = asyncio.run(parse_nginx(["/etc/nginx/nginx.conf"], host.text, host.glob))
    found = [(e.section, e.key, e.value) for e in entries]
    assert found == [
        ("", "user", "www-data"),
        ("events", "worker_connections", "768"),
        ("http", "server_tokens", "off"),
        ("http > types", "text/html", "html"),
        ("http", "add_header", "X-Frame-Options SAMEORIGIN always"),
        ("http > server", "listen", "443 ssl"),
        ("http > server", "ssl_protocols", "TLSv1.2 TLSv1.3"),
        ("http > server > location /", "autoindex", "on"),
        ("http > server > location /", "return", "200 a;b{c}"),
    ]
    tokens = next(e for e in entries if e.key == "server_tokens")
    assert tokens.where() == "/etc/nginx/nginx.conf:4: server_tokens off; # } not a block end"
    ssl = next(e for e in entries if e.key == "ssl_protocols")
    assert (ssl.file, ssl.line) == ("/etc/nginx/sites-enabled/default", 3)


def test_nginx_include_from_a_subdirectory_is_relative_to_the_conf_dir(tmp_path: Path) -> None:
    # nginx resolves relative includes against the prefix (nginx.conf's folder), not the
    # including file's folder
    host = make_tree(
        tmp_path,
        {
            "/etc/nginx/nginx.conf": "http { include sites-enabled/*.conf; }\n",
            "/etc/nginx/sites-enabled/a.conf": "server { include snippets/ssl.conf; }\n",
            "/etc/nginx/snippets/ssl.conf": "ssl_protocols TLSv1.3;\n",
            "/etc/nginx/sites-enabled/snippets/ssl.conf": "ssl_protocols SSLv3;\n",
        },
    )
    entries = asyncio.run(parse_nginx(["/etc/nginx/nginx.conf"], host.text, host.glob))
    assert [(e.section, e.value) for e in entries] == [("http > server", "TLSv1.3")]


# ---- apache -------------------------------------------------------------------------------


def test_apache_debian_layout(tmp_path: Path) -> None:
    host = make_tree(
        tmp_path,
        {
            "/etc/apache2/apache2.conf": (
                '# ServerRoot "/etc/apache2"\n'
                "Include ports.conf\n"
                "<Directory /var/www/>\n"
                "\tOptions Indexes FollowSymLinks\n"
                "\tAllowOverride None\n"
                "</Directory>\n"
                "IncludeOptional conf-enabled/*.conf\n"
                "IncludeOptional sites-enabled/*.conf\n"
                "IncludeOptional missing/*.conf\n"
            ),
            "/etc/apache2/ports.conf": "Listen 80\n",
            "/etc/apache2/conf-enabled/security.conf": (
                "ServerTokens\tProd\nServerSignature Off\nHeader always set \\\n"
                "    X-Frame-Options \\\n    SAMEORIGIN\n"
            ),
            "/etc/apache2/sites-enabled/000-default.conf": (
                '<VirtualHost *:80>\n  DocumentRoot /var/www/html\n  <Directory "/var/www/html">\n'
                "    Options -Indexes\n  </Directory>\n</VirtualHost>\n"
            ),
        },
    )
    entries = asyncio.run(parse_apache(["/etc/apache2/apache2.conf"], host.text, host.glob))
    assert [(e.section, e.key, e.value) for e in entries] == [
        ("", "Listen", "80"),
        ("Directory /var/www/", "Options", "Indexes FollowSymLinks"),
        ("Directory /var/www/", "AllowOverride", "None"),
        ("", "ServerTokens", "Prod"),
        ("", "ServerSignature", "Off"),
        ("", "Header", "always set  X-Frame-Options  SAMEORIGIN"),
        ("VirtualHost *:80", "DocumentRoot", "/var/www/html"),
        ("VirtualHost *:80 > Directory /var/www/html", "Options", "-Indexes"),
    ]
    header = next(e for e in entries if e.key == "Header")
    # a continued directive is reported at the line where it starts
    assert (header.file, header.line) == ("/etc/apache2/conf-enabled/security.conf", 3)


def test_apache_rhel_layout_uses_server_root(tmp_path: Path) -> None:
    host = make_tree(
        tmp_path,
        {
            "/etc/httpd/conf/httpd.conf": (
                'ServerRoot "/etc/httpd"\nInclude conf.modules.d/*.conf\n'
                "ServerTokens OS\nIncludeOptional conf.d/*.conf\n"
            ),
            "/etc/httpd/conf.modules.d/00-base.conf": "LoadModule headers_module modules/x.so\n",
            "/etc/httpd/conf.d/ssl.conf": "SSLProtocol all -SSLv3\n",
            "/etc/httpd/conf/conf.d/ssl.conf": "SSLProtocol all\n",
        },
    )
    entries = asyncio.run(parse_apache(["/etc/httpd/conf/httpd.conf"], host.text, host.glob))
    assert pairs(entries) == [
        ("ServerRoot", '"/etc/httpd"'),
        ("LoadModule", "headers_module modules/x.so"),
        ("ServerTokens", "OS"),
        ("SSLProtocol", "all -SSLv3"),
    ]


def test_apache_server_root_moved(tmp_path: Path) -> None:
    host = make_tree(
        tmp_path,
        {
            "/opt/web/conf/httpd.conf": "ServerRoot /srv/httpd\nInclude conf.d/*.conf\n",
            "/srv/httpd/conf.d/a.conf": "TraceEnable Off\n",
        },
    )
    entries = asyncio.run(parse_apache(["/opt/web/conf/httpd.conf"], host.text, host.glob))
    assert pairs(entries)[-1] == ("TraceEnable", "Off")


# ---- include loops, depth and fan-out -----------------------------------------------------


def _chain(depth: int, line: Callable[[int], str], body: Callable[[int], str]) -> dict[str, str]:
    return {f"/etc/c/f{i}.conf": f"{body(i)}\n{line(i + 1)}\n" for i in range(depth)}


PARSERS: dict[str, tuple[Callable[[int], str], Callable[[int], str], Parser]] = {
    "space": (
        lambda i: f"Include /etc/c/f{i}.conf",
        lambda i: f"Key{i} v",
        lambda paths, h: parse_space(paths, h.text, h.glob, "Include"),
    ),
    "equals": (
        lambda i: f"include '/etc/c/f{i}.conf'",
        lambda i: f"key{i} = v",
        lambda paths, h: parse_equals(paths, h.text, h.glob, "include"),
    ),
    "ini": (
        lambda i: f"!include /etc/c/f{i}.conf",
        lambda i: f"key{i} = v",
        lambda paths, h: parse_ini(paths, h.text, h.glob),
    ),
    "nginx": (
        lambda i: f"include /etc/c/f{i}.conf;",
        lambda i: f"key{i} v;",
        lambda paths, h: parse_nginx(paths, h.text, h.glob),
    ),
    "apache": (
        lambda i: f"Include /etc/c/f{i}.conf",
        lambda i: f"Key{i} v",
        lambda paths, h: parse_apache(paths, h.text, h.glob),
    ),
}


@pytest.mark.parametrize("syntax", sorted(PARSERS))
def test_include_loops_end(tmp_path: Path, syntax: str) -> None:
    include, body, parser = PARSERS[syntax]
    # f0 → f1 → f0 → ... and f1 → f1
    files = {
        "/etc/c/f0.conf": f"{body(0)}\n{include(1)}\n",
        "/etc/c/f1.conf": f"{include(1)}\n{include(0)}\n{body(1)}\n",
    }
    host = make_tree(tmp_path, files)
    entries = asyncio.run(parser(["/etc/c/f0.conf"], host))
    assert [e.key.lower() for e in entries] == ["key0", "key1"]


@pytest.mark.parametrize("syntax", sorted(PARSERS))
def test_include_depth_is_limited(tmp_path: Path, syntax: str) -> None:
    include, body, parser = PARSERS[syntax]
    host = make_tree(tmp_path, _chain(MAX_INCLUDE_DEPTH + 5, include, body))
    entries = asyncio.run(parser(["/etc/c/f0.conf"], host))
    assert [e.key.lower() for e in entries] == [f"key{i}" for i in range(MAX_INCLUDE_DEPTH + 1)]


def test_include_fan_out_is_limited(tmp_path: Path) -> None:
    files = {f"/etc/many/{i:04d}.conf": f"Key{i} v\n" for i in range(MAX_FILES + 50)}
    files["/etc/main.conf"] = "Include /etc/many/*.conf\n"
    host = make_tree(tmp_path, files)
    entries = space(host, "/etc/main.conf")
    assert len(entries) == MAX_FILES - 1  # the main file counts too
    assert entries[0].key == "Key0"


def test_unquote() -> None:
    assert unquote(' "a b" ') == "a b"
    assert unquote("'x'") == "x"
    assert unquote("'x\"") == "'x\""
    assert unquote('"') == '"'


# ---- fuzz: arbitrary text never raises ----------------------------------------------------


def _memory(
    files: dict[str, str],
) -> tuple[Callable[[str], Awaitable[str | None]], Callable[[str], Awaitable[list[str]]]]:
    async def read(path: str) -> str | None:
        return files.get(path)

    async def glob(pattern: str) -> list[str]:
        return sorted(p for p in files if fnmatch.fnmatchcase(p, pattern))

    return read, glob


LINES = st.sampled_from(
    [
        "Include /f*",
        "include /f1;",
        "include = '/f0'",
        "!include /f1",
        "!includedir /",
        "Match all",
        "<Directory />",
        "</Directory>",
        "IncludeOptional f*",
        "ServerRoot /",
        "http {",
        "}",
        "{",
        ";",
        '"',
        "'",
        "\\",
        "[s]",
        "key = 'v # c'",
        "#",
    ]
)
TEXTS = st.lists(st.one_of(LINES, st.text(max_size=40)), max_size=12).map("\n".join)


@settings(max_examples=150, deadline=None)
@given(first=TEXTS, second=st.text(max_size=300))
def test_fuzz_parsers_never_raise(first: str, second: str) -> None:
    """Whatever the files hold, every parser returns entries (and follows includes safely)."""
    read, glob = _memory({"/f0": first, "/f1": second})

    async def all_parsers() -> None:
        for include in (None, "Include|include"):
            await parse_space(["/f0"], read, glob, include)
            await parse_space(["/f0"], read, glob, include, sep=":")
            await parse_equals(["/f0"], read, glob, include or "include|include_dir")
        await parse_ini(["/f0"], read, glob)
        await parse_nginx(["/f0"], read, glob)
        entries = await parse_apache(["/f0"], read, glob)
        for entry in entries:
            assert entry.file in {"/f0", "/f1"}

    asyncio.run(all_parsers())
