"""A report document with every block type, for the renderer tests (no database needed)."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

from PIL import Image as PILImage
from PIL import ImageDraw

from shaobing.reports.model import (
    Block,
    BulletList,
    Chart,
    ChartSpec,
    Column,
    Heading,
    Image,
    KeyValue,
    PageBreak,
    Paragraph,
    ReportDocument,
    ReportMeta,
    Span,
    Table,
    TableOfContents,
)

LEVELS = ["高危", "中危", "低危", "信息"]


def png_bytes(width: int = 320, height: int = 200, colour: str = "#2874A6") -> bytes:
    """A small PNG (a coloured rectangle) standing in for a chart or a screenshot."""
    image = PILImage.new("RGB", (width, height), "white")
    ImageDraw.Draw(image).rectangle((20, 20, width - 20, height - 20), fill=colour)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def findings_table(rows: int) -> Table:
    """A findings table of ``rows`` rows with a level column."""
    return Table(
        columns=[
            Column("序号", 0.6, "center"),
            Column("主机", 1.4),
            Column("端口", 0.7, "right"),
            Column("等级", 0.8, "center"),
            Column("漏洞名称", 3.5),
        ],
        rows=[
            [
                str(i + 1),
                f"10.0.{i // 250}.{i % 250 + 1}",
                str(80 + i % 5),
                LEVELS[i % 4],
                f"Apache HTTP Server 路径穿越漏洞（CVE-2021-{41773 + i}）",
            ]
            for i in range(rows)
        ],
        caption="表 1 漏洞清单",
        level_column=3,
        sheet="漏洞清单",
    )


def sample_document(tmp_path: Path, *, rows: int = 60) -> ReportDocument:
    """A complete report: cover data, TOC, headings, lists, tables, chart, image, page break."""
    shot = tmp_path / "截图1.png"
    shot.write_bytes(png_bytes(640, 360, "#C0392B"))
    meta = ReportMeta(
        report_type="vuln_scan",
        title="漏洞扫描报告",
        client="示例市大数据管理局",
        engagement="2026年度网络安全服务项目",
        engagement_code="SB-2026-001",
        report_no="SB-LDSM-202610-001",
        report_date=date(2026, 10, 31),
        vendor="哨兵安全服务团队",
        confidentiality="内部资料 注意保密",
        period="2026年10月",
        subtitle="政务服务门户及相关主机",
        footer="哨兵安全服务团队 · 漏洞扫描报告",
    )
    table = findings_table(rows)
    blocks: list[Block] = [
        TableOfContents(),
        PageBreak(),
        Heading(1, "一、项目概述"),
        Paragraph(
            (
                Span("本次扫描共发现 "),
                Span(str(rows), bold=True),
                Span(" 个安全问题，其中高危 "),
                Span(str(len([r for r in table.rows if r[3] == "高危"])), bold=True),
                Span(" 个。"),
            )
        ),
        Heading(2, "1.1 扫描范围"),
        KeyValue(
            (("客户单位", meta.client), ("项目名称", meta.engagement), ("扫描时间", "2026-10-12")),
            caption="表 0 项目信息",
        ),
        BulletList(((Span("主机：127.0.0.1"),), (Span("Web 应用："), Span("门户", bold=True)))),
        BulletList(((Span("第一步"),), (Span("第二步"),)), ordered=True),
        Paragraph((Span("注：扫描仅在授权范围内进行。"),), style="note"),
        Heading(1, "二、漏洞统计"),
        Chart(
            ChartSpec(
                kind="bar",
                title="漏洞等级分布",
                labels=LEVELS,
                series={"数量": [5.0, 10.0, 20.0, 3.0]},
            ),
            png=png_bytes(),
        ),
        Heading(2, "2.1 漏洞清单"),
        table,
        Heading(3, "2.1.1 截图"),
        Image(shot, caption="图 1 登录页面截图"),
        Paragraph((Span("第一行"), Span("", br=True), Span("第二行")), style="center"),
        Table(columns=[Column("空表")], rows=[], caption="表 2 空表"),
    ]
    return ReportDocument(meta=meta, blocks=list(blocks), annexes=[table])
