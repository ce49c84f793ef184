"""Test data of the scan-family report builders, seeded through the real service functions.

One client and engagement with: a ledger of hosts and open services (an nmap-style ingest),
host findings from several tools and severities, web findings, a baseline failure, a
finding whose title looks like markup, findings first seen in January and in March 2026,
fixes and verifications in March (work orders closed), a false positive, open work orders
past their deadline, and an optional NVD feed whose CVEs match the ledger's OpenSSH.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from shaobing.core.db import session_scope
from shaobing.engagements.models import Engagement
from shaobing.engagements.service import EngagementInput, add_client, create_engagement
from shaobing.findings.importers.base import FindingInput, HostInput, ServiceInput
from shaobing.findings.ingest import IngestOptions, ingest
from shaobing.findings.models import Finding
from shaobing.findings.service import move_finding
from shaobing.findings.severity import Severity
from shaobing.findings.workflow import Role, Status
from shaobing.reports.model import (
    Block,
    BulletList,
    Heading,
    Paragraph,
    ReportDocument,
    Table,
)
from shaobing.reports.service import compose
from shaobing.vulndb.service import import_paths
from tests.vulndb import feeds

JANUARY = datetime(2026, 1, 10, 2, 0, tzinfo=UTC)
MARCH = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)
FIXED_AT = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
VERIFIED_AT = datetime(2026, 3, 12, 3, 0, tzinfo=UTC)
TODAY = date(2026, 3, 31)
TRICKY_TITLE = "# 标题 **不是粗体** ::table x"
# CVEs of the test feed (shapes of real advisories; the data is written for these tests).
CVE_IN_MONTH = "CVE-2026-10001"  # OpenSSH < 9.3p2, updated in March 2026
CVE_OLD = "CVE-2026-10002"  # OpenSSH < 9.8, updated in 2024: not in the month
CVE_OTHER_PRODUCT = "CVE-2026-10003"  # Exim, not in the ledger


@dataclass
class Seeded:
    """Ids of what was seeded."""

    engagement_id: int
    fixed_id: int
    verified_id: int
    false_positive_id: int
    retest_reopened_id: int


def _options() -> IngestOptions:
    # Each batch stands alone: nothing absent from it is closed.
    return IngestOptions(actor="tester", close_absent=False)


def ledger_hosts() -> list[HostInput]:
    """Three hosts with open services (OpenSSH, Redis, MySQL, RDP, HTTP)."""
    return [
        HostInput(
            address="127.0.0.5",
            os="Linux",
            services=[
                ServiceInput(
                    port=22,
                    service="ssh",
                    product="OpenSSH",
                    version="9.2p1",
                    cpe=["cpe:2.3:a:openbsd:openssh:9.2p1:*:*:*:*:*:*:*"],
                ),
                ServiceInput(port=80, service="http", product="nginx", version="1.22.1"),
                ServiceInput(port=8080, service="http", product="Apache Tomcat"),
            ],
        ),
        HostInput(
            address="127.0.0.6",
            os="Linux",
            services=[
                ServiceInput(port=6379, service="redis", product="Redis", version="6.0.9"),
                ServiceInput(port=3306, service="mysql", product="MySQL", version="5.7.44"),
                ServiceInput(port=8080, service="http"),
            ],
        ),
        HostInput(
            address="127.0.0.7",
            os="Windows",
            services=[ServiceInput(port=3389, service="ms-wbt-server")],
        ),
    ]


def january_findings() -> list[FindingInput]:
    """Findings first seen on 10 January 2026."""
    rce = "某中间件反序列化远程代码执行"
    return [
        FindingInput(
            "nuclei",
            "log4j-rce",
            rce,
            Severity.CRITICAL,
            description="组件存在反序列化漏洞，攻击者可远程执行任意代码。",
            remediation="升级组件到厂商发布的安全版本。",
            host="127.0.0.5",
            port=8080,
            protocol="tcp",
            cve_ids=["CVE-2021-44228"],
            cwe_ids=[502],
            evidence="响应中包含回连标记 ****",
            references=["https://example.org/advisory/log4j"],
        ),
        FindingInput(
            "nuclei",
            "log4j-rce",
            rce,
            Severity.CRITICAL,
            host="127.0.0.6",
            port=8080,
            protocol="tcp",
            cve_ids=["CVE-2021-44228"],
        ),
        FindingInput(
            "nuclei",
            "banner-disclosure",
            "服务版本信息泄露",
            Severity.LOW,
            host="127.0.0.7",
            port=3389,
            protocol="tcp",
        ),
        FindingInput("nuclei", "evil-title", TRICKY_TITLE, Severity.MEDIUM, host="127.0.0.7"),
        FindingInput(
            "nuclei",
            "noisy-check",
            "疑似目录遍历",
            Severity.HIGH,
            host="127.0.0.6",
            port=80,
            protocol="tcp",
        ),
        FindingInput(
            "shaobing-scan",
            "weak-credential.ssh",
            "SSH 弱口令",
            Severity.HIGH,
            remediation="修改为符合复杂度要求的口令并启用登录失败处理。",
            host="127.0.0.5",
            port=22,
            protocol="tcp",
        ),
        FindingInput(
            "shaobing-scan",
            "unauth.redis",
            "Redis 未授权访问",
            Severity.CRITICAL,
            host="127.0.0.6",
            port=6379,
            protocol="tcp",
        ),
        FindingInput(
            "shaobing-scan",
            "exposure.service",
            "数据库服务暴露",
            Severity.MEDIUM,
            host="127.0.0.6",
            port=3306,
            protocol="tcp",
        ),
        FindingInput(
            "shaobing-webscan",
            "web.sqli",
            "SQL 注入",
            Severity.CRITICAL,
            url="http://127.0.0.5/login.php?id=1",
            parameter="query:id",
            host="127.0.0.5",
            port=80,
            cwe_ids=[89],
        ),
        FindingInput(
            "shaobing-webscan",
            "web.tls-protocol",
            "支持不安全的 TLS 协议版本",
            Severity.MEDIUM,
            url="https://127.0.0.5/",
            host="127.0.0.5",
            port=443,
        ),
        FindingInput(
            "shaobing-webscan",
            "web.missing-csp",
            "缺少内容安全策略（CSP）",
            Severity.LOW,
            url="http://127.0.0.5/",
            host="127.0.0.5",
            port=80,
        ),
        FindingInput(
            "shaobing-baseline",
            "linux.pass-max-days",
            "口令最长使用期限未设置",
            Severity.MEDIUM,
            host="127.0.0.5",
        ),
    ]


def march_findings() -> list[FindingInput]:
    """Findings first seen on 5 March 2026."""
    return [
        FindingInput(
            "nuclei",
            "tomcat-examples",
            "Tomcat 示例应用未删除",
            Severity.MEDIUM,
            host="127.0.0.8",
            port=8080,
            protocol="tcp",
        ),
        FindingInput(
            "shaobing-webscan",
            "web.xss-stored",
            "存储型跨站脚本（XSS）",
            Severity.HIGH,
            url="http://127.0.0.5/board.php",
            parameter="form:content",
            host="127.0.0.5",
            port=80,
        ),
    ]


def _one(session: Session, engagement: Engagement, check_id: str, host: str) -> Finding:
    found = session.scalar(
        select(Finding).where(
            Finding.engagement_id == engagement.id,
            Finding.check_id == check_id,
            Finding.host == host,
        )
    )
    assert found is not None, (check_id, host)
    return found


def seed(session: Session) -> Seeded:
    """The whole data set in the caller's transaction."""
    client = add_client(session, "某市大数据中心", code="DSJ")
    engagement = create_engagement(
        session,
        client,
        EngagementInput(
            name="2026年网络安全服务",
            code="DSJ-2026-01",
            scope=["127.0.0.0/8"],
            exclude=["127.0.0.99"],
            start=date(2026, 1, 1),
            end=date(2026, 12, 31),
            systems=["政务服务平台"],
        ),
    )
    ingest(session, engagement, ledger_hosts(), format_name="nmap", options=_options(), now=JANUARY)
    for tool in ("nuclei", "shaobing-scan", "shaobing-webscan", "shaobing-baseline"):
        batch = [f for f in january_findings() if f.source_tool == tool]
        ingest(
            session,
            engagement,
            batch,
            format_name=tool,
            file_name=f"{tool}-jan.json",
            options=_options(),
            now=JANUARY,
        )
    for tool in ("nuclei", "shaobing-webscan"):
        batch = [f for f in march_findings() if f.source_tool == tool]
        ingest(session, engagement, batch, format_name=tool, options=_options(), now=MARCH)

    # The RCE on .5 is fixed and verified in March; the SQL injection is fixed in March.
    verified = _one(session, engagement, "log4j-rce", "127.0.0.5")
    for target, moment in ((Status.FIXED, FIXED_AT), (Status.VERIFIED, VERIFIED_AT)):
        move_finding(session, verified, target, actor="engineer", role=Role.ENGINEER, now=moment)
    fixed = _one(session, engagement, "web.sqli", "127.0.0.5")
    move_finding(session, fixed, Status.FIXED, actor="owner", role=Role.CLIENT_OWNER, now=FIXED_AT)
    # The Redis finding was reported fixed but the verification found it again.
    reopened = _one(session, engagement, "unauth.redis", "127.0.0.6")
    move_finding(
        session, reopened, Status.FIXED, actor="owner", role=Role.CLIENT_OWNER, now=FIXED_AT
    )
    move_finding(
        session,
        reopened,
        Status.TO_FIX,
        actor="engineer",
        role=Role.ENGINEER,
        reason="复测仍可未授权访问",
        now=VERIFIED_AT,
    )
    false_positive = _one(session, engagement, "noisy-check", "127.0.0.6")
    move_finding(
        session,
        false_positive,
        Status.FALSE_POSITIVE,
        actor="engineer",
        role=Role.ENGINEER,
        reason="人工核实为误报",
        now=FIXED_AT,
    )
    session.flush()
    return Seeded(
        engagement_id=engagement.id,
        fixed_id=fixed.id,
        verified_id=verified.id,
        false_positive_id=false_positive.id,
        retest_reopened_id=reopened.id,
    )


def seed_engine(engine: Engine) -> Seeded:
    """:func:`seed` in its own committed transaction."""
    with session_scope(engine) as session:
        return seed(session)


def empty_engagement(engine: Engine) -> int:
    """An engagement without any findings, scans or assets."""
    with session_scope(engine) as session:
        client = add_client(session, "某区档案馆")
        engagement = create_engagement(
            session,
            client,
            EngagementInput(
                name="档案馆安全服务",
                scope=["127.0.1.0/24"],
                start=date(2026, 1, 1),
                end=date(2026, 12, 31),
            ),
        )
        return engagement.id


def _cpe(product: str, vendor: str, **bounds: str) -> dict[str, Any]:
    return feeds.cpe_match(
        f"cpe:2.3:a:{vendor}:{product}:*:*:*:*:*:*:*:*", vulnerable=True, **bounds
    )


def _config(match: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"operator": "OR", "nodes": [{"operator": "OR", "cpeMatch": [match]}]}]


def import_vulndb(engine: Engine, folder: Path) -> None:
    """An NVD feed: one OpenSSH CVE updated in March 2026, one updated in 2024, one other."""
    folder.mkdir(parents=True, exist_ok=True)
    items = [
        feeds.nvd_cve(
            CVE_IN_MONTH,
            modified="2026-03-18T09:00:00.000",
            text="Example OpenSSH agent flaw allowing remote code execution.",
            configurations=_config(_cpe("openssh", "openbsd", versionEndExcluding="9.3p2")),
        ),
        feeds.nvd_cve(
            CVE_OLD,
            modified="2024-05-01T09:00:00.000",
            score=5.9,
            severity="MEDIUM",
            configurations=_config(_cpe("openssh", "openbsd", versionEndExcluding="9.8")),
        ),
        feeds.nvd_cve(
            CVE_OTHER_PRODUCT,
            modified="2026-03-20T09:00:00.000",
            configurations=_config(_cpe("exim", "exim", versionEndExcluding="4.98")),
        ),
    ]
    feeds.write_json(folder / "nvdcve-2.0-2026.json", feeds.nvd_document(items))
    import_paths(engine, [folder])


# --------------------------------------------------------------------------- reading documents
def compose_doc(
    engine: Engine,
    engagement_id: int,
    report_type: str,
    *,
    period: str | None = None,
    options: dict[str, str] | None = None,
) -> ReportDocument:
    """Compose a report of the engagement as of :data:`TODAY`."""
    with session_scope(engine) as session:
        engagement = session.get(Engagement, engagement_id)
        assert engagement is not None
        return compose(
            session, engagement, report_type, period=period, options=options, today=TODAY
        )


def headings(doc: ReportDocument, level: int | None = None) -> list[str]:
    """Heading texts in order (of one level when given)."""
    return [h.text for h in doc.headings() if level is None or h.level == level]


def table(doc: ReportDocument, caption: str) -> Table:
    """The one table with this caption (the first when it is placed twice)."""
    found = [b for b in doc.blocks if isinstance(b, Table) and b.caption == caption]
    assert found, (caption, [b.caption for b in doc.blocks if isinstance(b, Table)])
    return found[0]


def body_text(doc: ReportDocument) -> str:
    """All paragraph and list text, one block per line."""
    lines: list[str] = []
    for block in doc.blocks:
        if isinstance(block, Paragraph):
            lines.append(block.text)
        elif isinstance(block, BulletList):
            lines.extend("".join(s.text for s in item) for item in block.items)
    return "\n".join(lines)


def section(doc: ReportDocument, heading: str) -> list[Block]:
    """The blocks after the heading ending with ``heading`` up to the next heading of the
    same or a higher level."""
    blocks = doc.blocks
    for index, block in enumerate(blocks):
        if isinstance(block, Heading) and block.text.endswith(heading):
            out: list[Block] = []
            for later in blocks[index + 1 :]:
                if isinstance(later, Heading) and later.level <= block.level:
                    break
                out.append(later)
            return out
    raise AssertionError(f"no heading {heading!r} in {headings(doc)}")


def section_text(doc: ReportDocument, heading: str) -> str:
    """The paragraph and list text of one section."""
    return body_text(ReportDocument(doc.meta, section(doc, heading)))


def window(start: date, end: date) -> tuple[datetime, datetime]:
    """[start, end] in Asia/Shanghai as half-open UTC bounds, computed here independently."""
    shanghai = timedelta(hours=8)
    first = datetime(start.year, start.month, start.day, tzinfo=UTC) - shanghai
    after = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1) - shanghai
    return first, after
