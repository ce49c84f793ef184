"""Hardening edits (C3): syntax-aware, minimal, and idempotent (applying twice == once)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shaobing.baseline.edits import apply_edit, unified_diff
from shaobing.baseline.model import Edit


def edit(**fields: Any) -> Edit:
    """An Edit of /etc/x (the path does not matter to the text transformation)."""
    return Edit.model_validate({"file": "/etc/x", **fields})


SSHD_SET = edit(set={"key": "PermitRootLogin", "value": "no"}, before=r"^\s*Match\s")


# ---- set: space syntax (sshd_config, login.defs) ------------------------------------------


def test_set_replaces_first_active_and_comments_later_duplicates() -> None:
    text = (
        "# header\nPermitRootLogin yes\nX11Forwarding no\n"
        "permitrootlogin prohibit-password\nPermitRootLoginDelay 3\n"
        "Match User backup\n  PermitRootLogin yes\n"
    )
    assert apply_edit(text, SSHD_SET) == (
        "# header\nPermitRootLogin no\nX11Forwarding no\n"
        "# permitrootlogin prohibit-password\nPermitRootLoginDelay 3\n"
        "Match User backup\n  PermitRootLogin yes\n"
    )


def test_set_reuses_the_commented_example() -> None:
    text = "Port 22\n#PermitRootLogin prohibit-password\n#MaxAuthTries 6\n"
    assert apply_edit(text, SSHD_SET) == (
        "Port 22\n#PermitRootLogin prohibit-password\nPermitRootLogin no\n#MaxAuthTries 6\n"
    )


def test_set_inserts_before_match_or_appends() -> None:
    text = "Port 22\nMatch Address 10.0.0.0/8\n  PermitRootLogin yes\n"
    assert apply_edit(text, SSHD_SET) == (
        "Port 22\nPermitRootLogin no\nMatch Address 10.0.0.0/8\n  PermitRootLogin yes\n"
    )
    assert apply_edit("Port 22", SSHD_SET) == "Port 22\nPermitRootLogin no\n"
    assert apply_edit("", SSHD_SET) == "PermitRootLogin no\n"


def test_set_rewrites_the_key_equals_value_form() -> None:
    # sshd accepts "Key=value"; leaving it would keep the old value (first one wins)
    assert apply_edit("PermitRootLogin=yes\n", SSHD_SET) == "PermitRootLogin no\n"
    assert apply_edit("\tPermitRootLogin\tyes\n", SSHD_SET) == "PermitRootLogin no\n"


# ---- set: equals, colon, ini --------------------------------------------------------------


def test_set_equals_syntax() -> None:
    pwq = edit(set={"key": "minlen", "value": 12}, syntax="equals")
    assert apply_edit("# minlen = 9\ndcredit = -1\n", pwq) == (
        "# minlen = 9\nminlen = 12\ndcredit = -1\n"
    )
    assert apply_edit("minlen=8\n  minlen = 10 # x\n", pwq) == "minlen = 12\n#   minlen = 10 # x\n"
    assert apply_edit("minlength = 3\n", pwq) == "minlength = 3\nminlen = 12\n"


def test_set_colon_syntax() -> None:
    yaml_like = edit(set={"key": "bind", "value": "127.0.0.1"}, syntax="colon")
    assert apply_edit("bind: 0.0.0.0\nport: 1\n", yaml_like) == "bind: 127.0.0.1\nport: 1\n"


def test_set_ini_in_a_section() -> None:
    infile = edit(set={"key": "local_infile", "value": 0, "section": "mysqld"}, syntax="ini")
    text = (
        "[client]\nlocal-infile = 1\n\n[mysqld]\nport = 3306\nlocal-infile=1\n; local_infile = 1\n"
    )
    assert apply_edit(text, infile) == (
        "[client]\nlocal-infile = 1\n\n[mysqld]\nport = 3306\nlocal_infile = 0\n"
        "; local_infile = 1\n"
    )
    # without the key in the section: added at the end of that section
    assert apply_edit("[mysqld]\nport = 3306\n\n[client]\nuser = x\n", infile) == (
        "[mysqld]\nport = 3306\n\nlocal_infile = 0\n[client]\nuser = x\n"
    )
    # a commented example inside the section is reused
    assert apply_edit("[mysqld]\n#local-infile = 1\nport = 1\n", infile) == (
        "[mysqld]\n#local-infile = 1\nlocal_infile = 0\nport = 1\n"
    )


def test_set_ini_creates_a_missing_section() -> None:
    flag = edit(
        set={"key": "skip-symbolic-links", "value": "", "section": "mysqld|mariadb"}, syntax="ini"
    )
    assert apply_edit("[client]\nport = 1\n", flag) == (
        "[client]\nport = 1\n\n[mysqld]\nskip-symbolic-links\n"
    )
    assert apply_edit("", flag) == "[mysqld]\nskip-symbolic-links\n"
    assert apply_edit("[MariaDB]\n", flag) == "[MariaDB]\nskip-symbolic-links\n"


# ---- line and comment_out -----------------------------------------------------------------


def test_line_replace_insert_and_keep() -> None:
    forward = edit(line="net.ipv4.ip_forward = 0", replace=r"^\s*net\.ipv4\.ip_forward\s*=")
    assert apply_edit("a = 1\nnet.ipv4.ip_forward=1\n net.ipv4.ip_forward = 1\n", forward) == (
        "a = 1\nnet.ipv4.ip_forward = 0\n#  net.ipv4.ip_forward = 1\n"
    )
    assert apply_edit("a = 1\n", forward) == "a = 1\nnet.ipv4.ip_forward = 0\n"
    assert apply_edit("net.ipv4.ip_forward = 0", forward) == "net.ipv4.ip_forward = 0\n"
    assert apply_edit("", forward) == "net.ipv4.ip_forward = 0\n"
    # the exact line present later and a wrong one earlier: the wrong one is commented out
    assert apply_edit("net.ipv4.ip_forward=1\nnet.ipv4.ip_forward = 0\n", forward) == (
        "# net.ipv4.ip_forward=1\nnet.ipv4.ip_forward = 0\n"
    )


def test_line_reuses_a_commented_line_and_stays_idempotent() -> None:
    wheel = edit(
        line="auth required pam_wheel.so use_uid",
        replace=r"^#?\s*auth\s+required\s+pam_wheel\.so",
    )
    text = "auth sufficient pam_rootok.so\n# auth       required   pam_wheel.so\n"
    once = apply_edit(text, wheel)
    assert once == "auth sufficient pam_rootok.so\nauth required pam_wheel.so use_uid\n"
    assert apply_edit(once, wheel) == once
    # an unanchored pattern also matches comments: they are left alone, not re-commented
    loose = edit(line="net.ipv4.ip_forward = 0", replace="ip_forward")
    twice = apply_edit(apply_edit("net.ipv4.ip_forward=1\n# ip_forward example\n", loose), loose)
    assert twice == "net.ipv4.ip_forward = 0\n# ip_forward example\n"


def test_line_before() -> None:
    banner = edit(line="Banner /etc/issue.net", before=r"^\s*Match\s")
    assert (
        apply_edit("Port 22\nMatch all\n", banner) == "Port 22\nBanner /etc/issue.net\nMatch all\n"
    )


def test_comment_out() -> None:
    telnet = edit(comment_out=r"^\s*telnet\b")
    text = "telnet stream tcp nowait root /usr/sbin/tcpd in.telnetd\n# telnet old\nftp x\n"
    assert apply_edit(text, telnet) == (
        "# telnet stream tcp nowait root /usr/sbin/tcpd in.telnetd\n# telnet old\nftp x\n"
    )
    assert apply_edit("", telnet) == ""


def test_combined_edit_and_mode_only() -> None:
    both = edit(set={"key": "PASS_MAX_DAYS", "value": 90}, comment_out="^PASS_MIN_DAYS")
    assert apply_edit("PASS_MAX_DAYS 99999\nPASS_MIN_DAYS 0\n", both) == (
        "PASS_MAX_DAYS 90\n# PASS_MIN_DAYS 0\n"
    )
    mode_only = edit(mode="0640", owner="root", group="shadow")
    assert apply_edit("root:x:\n", mode_only) == "root:x:\n"


def test_edit_validation() -> None:
    with pytest.raises(ValueError, match="正则"):
        edit(line="x", replace="(")
    with pytest.raises(ValueError, match="extra"):
        edit(line="x", replce="y")


# ---- unified diff -------------------------------------------------------------------------


def test_unified_diff_for_changed_new_and_unchanged_files() -> None:
    changed = unified_diff(
        "/etc/ssh/sshd_config", "Port 22\nPermitRootLogin yes\n", "Port 22\nPermitRootLogin no\n"
    )
    assert changed == (
        "--- /etc/ssh/sshd_config\n+++ /etc/ssh/sshd_config\n@@ -1,2 +1,2 @@\n"
        " Port 22\n-PermitRootLogin yes\n+PermitRootLogin no\n"
    )
    created = unified_diff("/etc/sysctl.d/99-x.conf", None, "a = 1\n")
    assert created == "--- /dev/null\n+++ /etc/sysctl.d/99-x.conf\n@@ -0,0 +1 @@\n+a = 1\n"
    assert unified_diff("/etc/x", "same\n", "same\n") == ""


# ---- idempotence over random configuration texts ------------------------------------------


CONFIG_LINES = st.sampled_from(
    [
        "PermitRootLogin yes",
        "permitrootlogin no",
        "PermitRootLogin=without-password",
        "#PermitRootLogin prohibit-password",
        "# PermitRootLogin yes",
        "\tPermitRootLogin\tyes",
        "PermitRootLoginX 1",
        "Match User x",
        "  Match Group y",
        "minlen = 8",
        "# minlen = 9",
        "minlen=10 # c",
        "local-infile = 1",
        "local_infile=0",
        ";local_infile = 1",
        "[mysqld]",
        "[client]",
        "[ MariaDB ]",
        "net.ipv4.ip_forward = 1",
        "# net.ipv4.ip_forward=1",
        "ip_forward",
        "telnet stream tcp",
        "# telnet",
        "",
        "   ",
    ]
)
CONFIGS = st.lists(st.one_of(CONFIG_LINES, st.text(max_size=30)), max_size=15).map("\n".join)
EDITS = [
    SSHD_SET,
    edit(set={"key": "PermitRootLogin", "value": "no"}),
    edit(set={"key": "minlen", "value": 14}, syntax="equals"),
    edit(set={"key": "local_infile", "value": 0, "section": "mysqld|mariadb"}, syntax="ini"),
    edit(set={"key": "skip-networking", "value": "", "section": "mysqld"}, syntax="ini"),
    edit(set={"key": "bind", "value": "127.0.0.1"}, syntax="colon"),
    edit(line="net.ipv4.ip_forward = 0", replace=r"^\s*net\.ipv4\.ip_forward\s*="),
    edit(line="net.ipv4.ip_forward = 0", replace="ip_forward"),
    edit(line="auth required pam_wheel.so", replace=r"^#?\s*auth\s+required\s+pam_wheel"),
    edit(line="Banner /etc/issue.net", before=r"^\s*Match\s"),
    edit(comment_out=r"^\s*telnet\b"),
    edit(comment_out="PermitRootLogin"),
]


@settings(max_examples=300, deadline=None)
@given(text=CONFIGS, which=st.sampled_from(range(len(EDITS))))
def test_applying_twice_equals_applying_once(text: str, which: int) -> None:
    """A second hardening run over a hardened file changes nothing."""
    change = EDITS[which]
    once = apply_edit(text, change)
    assert apply_edit(once, change) == once
