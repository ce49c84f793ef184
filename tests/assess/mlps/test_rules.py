"""High-risk rules and pre-fill rules evaluated on plain values (no database)."""

from __future__ import annotations

from shaobing.assess.mlps.catalogue import load_catalogue
from shaobing.assess.mlps.evidence import FindingView, RuleOutcome
from shaobing.assess.mlps.highrisk import Context, HighRiskFile, evaluate, load_rules
from shaobing.assess.mlps.prefill import load_prefill, propose
from shaobing.assess.mlps.scoring import ObjectView, RecordView

CATALOGUE = load_catalogue(3)
RULES = load_rules()
PREFILL = load_prefill(CATALOGUE)
ROOM = ObjectView(1, "机房", "physical_room")
WEB = ObjectView(2, "门户服务器", "host", ("web-01", "10.0.0.5", "门户服务器"), asset_id=7)
DB = ObjectView(3, "业务数据库", "database", ("10.0.0.5", "业务数据库"), asset_id=8)
APP = ObjectView(4, "门户网站", "application", ("portal.example.cn",), asset_id=9)


def rec(obj: ObjectView, item: str, result: str, source: str = "manual") -> RecordView:
    return RecordView(obj.id, obj.name, obj.object_type, item, result, source)


def outcome(
    rule: str, status: str, host: str = "web-01", profile: str = "linux", run: int = 5
) -> RuleOutcome:
    clause = "8.1.4.4" if rule.startswith("linux.kernel") else "8.1.4.1"
    return RuleOutcome(
        run, profile, host, rule, f"规则 {rule}", status, f"{rule} 的实际值", {"gb22239": [clause]}
    )


def finding(
    fid: int,
    check: str,
    severity: str = "high",
    host: str | None = "web-01",
    asset: int | None = None,
    source: str = "shaobing-scan",
) -> FindingView:
    return FindingView(fid, source, check, severity, f"发现 {check}", host, asset)


def ids(hits: list) -> dict[str, str]:  # type: ignore[type-arg]
    return {h.rule_id: h.level for h in hits}


def test_item_condition_counts_manual_records_and_compensation_lowers_to_medium() -> None:
    records = [rec(ROOM, "8.1.1.2a", "不符合")]
    ctx = Context(level=3, flags=frozenset(), records=records)
    assert ids(evaluate(RULES, ctx)) == {"HR-PES-01": "高"}
    # 专人值守的视频监控 (8.1.1.3c 符合) is the guideline's mitigating measure
    ctx.records = [*records, rec(ROOM, "8.1.1.3c", "符合")]
    (hit,) = evaluate(RULES, ctx)
    assert (hit.rule_id, hit.level, hit.objects, hit.verified) == (
        "HR-PES-01",
        "中",
        ("机房",),
        True,
    )
    assert hit.compensations
    # a pre-filled 不符合 is not an assessor's high-risk judgement
    ctx.records = [rec(ROOM, "8.1.1.2a", "不符合", source="auto")]
    assert evaluate(RULES, ctx) == []


def test_levels_and_required_flags_decide_whether_a_rule_applies() -> None:
    records = [rec(ROOM, "8.1.1.9b", "不符合")]  # 短期备用电力: only for high availability
    assert evaluate(RULES, Context(3, frozenset(), records)) == []
    assert ids(evaluate(RULES, Context(3, frozenset({"high_availability"}), records))) == {
        "HR-PES-03": "高"
    }
    assert evaluate(RULES, Context(2, frozenset({"high_availability"}), records)) == []


def test_finding_and_baseline_conditions_carry_their_evidence() -> None:
    ctx = Context(
        level=3,
        flags=frozenset(),
        records=[],
        findings=[
            finding(11, "weak-credential.ssh"),
            finding(12, "web.sqli", host="portal.example.cn", asset=9),
        ],
        outcomes=[
            outcome("linux.account.empty-password", "fail", run=5),
            outcome("linux.log.retention", "pass"),
        ],
        objects=[WEB, APP],
    )
    hits = {h.rule_id: h for h in evaluate(RULES, ctx)}
    assert set(hits) == {"HR-CES-01", "HR-CES-09"}
    assert hits["HR-CES-01"].finding_ids == (11,) and hits["HR-CES-01"].baseline_run_ids == (5,)
    assert hits["HR-CES-01"].objects == ("门户服务器",)
    assert hits["HR-CES-09"].objects == ("门户网站",)
    # a private network mitigates plaintext remote management
    ctx.findings = [finding(13, "weak-credential.telnet")]
    assert ids(evaluate(RULES, ctx))["HR-CES-03"] == "高"
    ctx.flags = frozenset({"private_network"})
    assert ids(evaluate(RULES, ctx))["HR-CES-03"] == "中"


def test_severity_floor_of_finding_conditions() -> None:
    ctx = Context(3, frozenset(), [], findings=[finding(1, "CVE-2021-44228", severity="medium")])
    assert "HR-CES-08" not in ids(evaluate(RULES, ctx))
    ctx.findings = [finding(1, "CVE-2021-44228", severity="critical")]
    assert ids(evaluate(RULES, ctx))["HR-CES-08"] == "高"


def test_all_condition_needs_every_branch() -> None:
    custom = HighRiskFile.model_validate(
        {
            "schema": 1,
            "rules": [
                {
                    "id": "HR-TST-01",
                    "title": "两者同时",
                    "category": "安全计算环境",
                    "control_point": "身份鉴别",
                    "items": ["8.1.4.1a"],
                    "levels": [3],
                    "when": {
                        "all": [
                            {"item": "8.1.4.1a", "results": ["不符合"]},
                            {"flag": "remote_admin"},
                        ]
                    },
                    "advice": "整改",
                    "source": {"section": "测试", "verified": False},
                }
            ],
        }
    )
    records = [rec(WEB, "8.1.4.1a", "不符合")]
    assert evaluate(custom, Context(3, frozenset(), records)) == []
    assert ids(evaluate(custom, Context(3, frozenset({"remote_admin"}), records))) == {
        "HR-TST-01": "高"
    }


def test_baseline_prefill_combines_mapped_rules_per_object() -> None:
    outcomes = [
        outcome("linux.password.min-length", "fail"),
        outcome("linux.password.complexity", "pass"),
        outcome("linux.auth.login-fail-lock", "fail"),
        outcome("linux.session.tmout", "fail"),
        outcome("linux.ssh.protocol", "pass"),
        outcome("linux.kernel.aslr", "fail"),  # 入侵防范 hardening without an item: not pre-filled
        outcome("linux.ssh.unknown-rule", "fail"),  # unmapped: fallback by clause 8.1.4.1 → a)
        outcome("linux.password.history", "na"),
        outcome("mysql.account.anonymous", "fail", host="10.0.0.5", profile="mysql", run=6),
        outcome("linux.password.max-days", "fail", host="unknown-host"),
    ]
    proposals, stats = propose(CATALOGUE, PREFILL, [ROOM, WEB, DB], outcomes, [])
    got = {(k[0], k[1]): p.result for k, p in proposals.items()}
    assert got == {
        (2, "8.1.4.1a"): "部分符合",  # min-length fails, complexity passes, fallback rule fails
        (2, "8.1.4.1b"): "不符合",
        (2, "8.1.4.1c"): "符合",
        (3, "8.1.4.1a"): "不符合",  # mysql profile lands on the database object of that address
    }
    evidence = proposals[(2, "8.1.4.1b")].evidence
    assert (
        "linux.auth.login-fail-lock" in evidence[1]
        and "linux.auth.login-fail-lock 的实际值" in evidence[1]
    )
    assert proposals[(2, "8.1.4.1a")].baseline_run_ids == {5}
    assert stats.rules_unmapped == 1
    assert stats.runs_unmatched == {"linux@unknown-host"}


def test_findings_prefill_by_asset_or_host_and_worst_wins() -> None:
    findings = [
        finding(1, "weak-credential.ssh", host="10.0.0.5"),  # host match: both objects share it
        finding(2, "web.tls-protocol", severity="medium", host="portal.example.cn", asset=9),
        finding(3, "web.password-over-http", host="portal.example.cn", asset=9),
        finding(4, "weak-credential.ssh", source="shaobing-baseline"),  # skipped source
        finding(5, "CVE-2020-1938", severity="medium", host="web-01"),
        finding(6, "nothing.matches"),
    ]
    proposals, stats = propose(CATALOGUE, PREFILL, [WEB, DB, APP], [], findings)
    got = {k: (p.result, sorted(p.finding_ids)) for k, p in proposals.items()}
    assert got[(2, "8.1.4.1a")] == ("不符合", [1])
    assert got[(3, "8.1.4.1a")] == ("不符合", [1])
    assert got[(4, "8.1.4.8a")] == ("不符合", [2, 3])  # 部分符合 and 不符合 → 不符合
    assert got[(4, "8.1.4.1c")] == ("不符合", [3])
    assert got[(2, "8.1.4.4e")] == ("部分符合", [5])
    assert stats.findings_used == 4 and stats.findings_unmatched == 0
