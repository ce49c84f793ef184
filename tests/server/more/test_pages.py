"""The console's new forms: import on /findings, MLPS and data security entry, deliverables.

Forms are posted as a browser does: the session cookie plus the page's hidden CSRF field,
no X-CSRF-Token header; without the field they are refused.
"""

from __future__ import annotations

from html import unescape
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, select

from shaobing.core.db import session_scope
from shaobing.engagements.models import Deliverable
from shaobing.findings.models import ImportRun
from tests.findings.corpus import corpus_dir
from tests.server.conftest import World
from tests.server.more.helpers import (
    Login,
    assessment_state,
    browser,
    csrf_of,
    findings_state,
)
from tests.server.work import seed


def _query(location: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(location).query)


def test_findings_page_imports_a_file_and_shows_the_summary(world: World, login: Login) -> None:
    data = (corpus_dir("nmap") / "nmap_multiple_port.xml").read_bytes()
    client = browser(login("engineer"))
    page = client.get("/findings", params={"engagement": "JIA"})
    assert page.status_code == 200 and 'action="/findings/import"' in page.text
    token = csrf_of(page.text)
    form = {"engagement": str(world.own.engagement_id)}
    files = {"file": ("scan.xml", data, "text/xml")}
    before = findings_state(world, world.own.engagement_id)
    assert client.post("/findings/import", data=form, files=files).status_code == 403
    assert findings_state(world, world.own.engagement_id) == before
    done = client.post(
        "/findings/import",
        data=form | {"csrf_token": token},
        files=files,
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text[:300]
    import_id = int(_query(done.headers["location"])["imported"][0])
    with session_scope(world.engine, readonly=True) as db:
        run = db.get_one(ImportRun, import_id)
        summary = dict(run.summary)
    shown = unescape(client.get(done.headers["location"]).text)
    assert "导入完成：scan.xml（格式 nmap" in shown
    created = f'<td class="n">{summary["created"]}</td>'
    assert created in shown and "未再检出" in shown and "新建工单" in shown
    assert findings_state(world, world.own.engagement_id)[0] == before[0] + summary["created"]
    # The summary belongs to the shown engagement only.
    other = client.get(f"/findings?engagement=YI&imported={import_id}")
    assert other.status_code == 200 and "导入完成" not in other.text


def test_findings_page_import_errors_and_refusals(world: World, login: Login) -> None:
    client = browser(login("engineer"))
    token = csrf_of(client.get("/findings?engagement=JIA").text)
    before = findings_state(world, world.own.engagement_id)
    hostile = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
    )
    bad = client.post(
        "/findings/import",
        data={"engagement": "JIA", "csrf_token": token, "format": "nmap"},
        files={"file": ("evil.xml", hostile, "text/xml")},
    )
    assert bad.status_code == 400
    assert 'role="alert">无法导入文件 evil.xml' in bad.text and "root:" not in bad.text
    # The chosen format stays selected for the next attempt.
    assert '<option value="nmap" selected>' in bad.text
    assert findings_state(world, world.own.engagement_id) == before
    viewer = browser(login("viewer"))
    page = viewer.get("/findings?engagement=JIA").text
    assert 'action="/findings/import"' not in page
    data = (corpus_dir("nmap") / "nmap_multiple_port.xml").read_bytes()
    files = {"file": ("scan.xml", data, "text/xml")}
    refused = viewer.post(
        "/findings/import", data={"engagement": "JIA", "csrf_token": csrf_of(page)}, files=files
    )
    assert refused.status_code == 403
    other = browser(login("other_owner"))
    other_token = csrf_of(other.get("/findings").text)
    hidden = other.post(
        "/findings/import", data={"engagement": "JIA", "csrf_token": other_token}, files=files
    )
    assert hidden.status_code == 404
    assert findings_state(world, world.own.engagement_id) == before


def test_assessment_page_links_to_the_entry_pages(world: World, login: Login) -> None:
    seed.assessments(world.engine, world.own.engagement_id)
    page = login("engineer").get("/assessment?engagement=JIA").text
    own = world.own.engagement_id
    assert f'href="/assessment/mlps?engagement={own}">逐项录入测评记录' in page
    assert f'href="/assessment/datasec?engagement={own}">填写评估问卷' in page
    viewer = login("viewer").get("/assessment?engagement=JIA").text
    assert "查看各测评项记录" in viewer and "逐项录入测评记录" not in viewer


def test_mlps_page_records_one_item(world: World, login: Login) -> None:
    client = browser(login("engineer"))
    empty = client.get("/assessment/mlps?engagement=JIA")
    assert empty.status_code == 200 and "尚未开展等级测评" in empty.text
    seed.assessments(world.engine, world.own.engagement_id)
    seed.assessments(world.engine, world.other.engagement_id)
    page = client.get("/assessment/mlps?engagement=JIA")
    assert page.status_code == 200
    html = unescape(page.text)
    # One category at a time: the first one, marked current, with a form per item.
    assert 'category=PES" aria-current="true">安全物理环境' in html
    assert 'id="item-8.1.1.1a"' in html and "8.1.2.1a" not in html.split("安全通信网络")[-1]
    assert html.count('action="/assessment/mlps/record"') == html.count(
        'class="card" aria-labelledby="item-'
    )
    token = csrf_of(page.text)
    form = {
        "engagement": str(world.own.engagement_id),
        "item": "8.1.1.1a",
        "object": "机房",
        "result": "部分符合",
        "evidence": "屋顶有防水层，窗户未封闭",
        "category": "PES",
        "unrecorded": "true",
    }
    before = assessment_state(world)
    assert client.post("/assessment/mlps/record", data=form).status_code == 403
    assert assessment_state(world) == before
    missing = client.post(
        "/assessment/mlps/record", data=form | {"result": "", "csrf_token": token}
    )
    assert missing.status_code == 400 and "请填写测评结果" in missing.text
    done = client.post(
        "/assessment/mlps/record", data=form | {"csrf_token": token}, follow_redirects=False
    )
    assert done.status_code == 303
    location = done.headers["location"]
    assert location.endswith("#item-8.1.1.1a")
    assert _query(location)["category"] == ["PES"] and _query(location)["unrecorded"] == ["true"]
    after = unescape(client.get(location).text)
    assert "已记录测评项 8.1.1.1a（机房）：部分符合" in after
    # Under the "unrecorded" filter the completed item is gone.
    assert 'id="item-8.1.1.1a"' not in after and 'id="item-8.1.1.1b"' in after
    shown = unescape(client.get("/assessment/mlps?engagement=JIA&category=PES").text)
    assert "屋顶有防水层，窗户未封闭" in shown
    assert assessment_state(world) != before


def test_mlps_page_refusals(world: World, login: Login) -> None:
    seed.assessments(world.engine, world.own.engagement_id)
    form = {"engagement": "JIA", "item": "8.1.1.1a", "object": "机房", "result": "符合"}
    before = assessment_state(world)
    viewer = browser(login("viewer"))
    page = viewer.get("/assessment/mlps?engagement=JIA")
    assert page.status_code == 200 and "8.1.1.1 a)" in page.text
    assert 'action="/assessment/mlps/record"' not in page.text
    token = csrf_of(viewer.get("/findings").text)
    assert (
        viewer.post("/assessment/mlps/record", data=form | {"csrf_token": token}).status_code == 403
    )
    other = browser(login("other_owner"))
    other_token = csrf_of(other.get("/findings").text)
    assert other.get("/assessment/mlps?engagement=JIA").status_code == 404
    refused = other.post("/assessment/mlps/record", data=form | {"csrf_token": other_token})
    assert refused.status_code == 404
    assert assessment_state(world) == before


def test_datasec_page_answers_one_question(world: World, login: Login) -> None:
    client = browser(login("engineer"))
    assert "尚未开展数据安全评估" in client.get("/assessment/datasec?engagement=JIA").text
    seed.assessments(world.engine, world.own.engagement_id)
    page = client.get("/assessment/datasec?engagement=JIA")
    html = unescape(page.text)
    assert 'stage=collection" aria-current="true">' in html and 'id="q-col.classification"' in html
    assert 'id="q-tra.encryption"' not in html
    token = csrf_of(page.text)
    form = {
        "engagement": "JIA",
        "question": "col.classification",
        "answer": "否",
        "note": "尚未开展分类分级",
        "stage": "collection",
    }
    before = assessment_state(world)
    assert client.post("/assessment/datasec/answer", data=form).status_code == 403
    assert assessment_state(world) == before
    wrong = client.post(
        "/assessment/datasec/answer", data=form | {"answer": "也许", "csrf_token": token}
    )
    assert wrong.status_code == 400 and "也许" in wrong.text
    assert assessment_state(world) == before
    done = client.post(
        "/assessment/datasec/answer", data=form | {"csrf_token": token}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"].endswith("#q-col.classification")
    after = unescape(client.get(done.headers["location"]).text)
    assert "已记录问题 col.classification 的回答：否" in after and "尚未开展分类分级" in after
    unanswered = unescape(
        client.get("/assessment/datasec?engagement=JIA&stage=collection&unanswered=true").text
    )
    assert 'id="q-col.classification"' not in unanswered
    # A forged "saved" parameter names nothing that was not stored.
    forged = client.get("/assessment/datasec?engagement=JIA&saved=col.minimum").text
    assert "已记录问题" not in forged
    viewer = browser(login("viewer"))
    vpage = viewer.get("/assessment/datasec?engagement=JIA").text
    assert 'action="/assessment/datasec/answer"' not in vpage
    refused = viewer.post(
        "/assessment/datasec/answer",
        data=form | {"csrf_token": csrf_of(viewer.get("/findings").text)},
    )
    assert refused.status_code == 403
    other = browser(login("other_owner"))
    hidden = other.post(
        "/assessment/datasec/answer",
        data=form | {"csrf_token": csrf_of(other.get("/findings").text)},
    )
    assert hidden.status_code == 404


def _deliverables(world: World) -> int:
    with session_scope(world.engine, readonly=True) as db:
        return int(db.scalar(select(func.count()).select_from(Deliverable)) or 0)


def test_reports_page_adds_a_deliverable(world: World, login: Login) -> None:
    client = browser(login("engineer"))
    page = client.get("/reports?engagement=JIA")
    assert page.status_code == 200 and 'action="/reports/deliverables"' in page.text
    token = csrf_of(page.text)
    form = {"engagement": "JIA", "kind": "incident_report", "due": "2030-02-28", "note": "演练"}
    assert client.post("/reports/deliverables", data=form).status_code == 403
    assert _deliverables(world) == 0
    no_due = client.post("/reports/deliverables", data=form | {"due": "", "csrf_token": token})
    assert no_due.status_code == 400 and "请填写应交日期" in no_due.text
    unknown = client.post(
        "/reports/deliverables", data=form | {"kind": "poem", "csrf_token": token}
    )
    assert unknown.status_code == 400 and "poem" in unknown.text
    assert _deliverables(world) == 0
    done = client.post(
        "/reports/deliverables", data=form | {"csrf_token": token}, follow_redirects=False
    )
    assert done.status_code == 303
    added = int(_query(done.headers["location"])["added"][0])
    shown = unescape(client.get(done.headers["location"]).text)
    assert f"已登记交付物 #{added} 应急响应报告，应交日期 2030-02-28" in shown
    assert f"<td>#{added}</td>" in shown
    assert _deliverables(world) == 1


def test_reports_page_deliverable_refusals(world: World, login: Login) -> None:
    form = {"engagement": "JIA", "kind": "incident_report", "due": "2030-02-28"}
    for user in ("viewer", "owner"):
        client = browser(login(user))
        page = client.get("/reports?engagement=JIA").text
        assert 'action="/reports/deliverables"' not in page
        refused = client.post("/reports/deliverables", data=form | {"csrf_token": csrf_of(page)})
        assert refused.status_code == 403
    other = browser(login("other_owner"))
    token = csrf_of(other.get("/findings").text)
    assert other.post("/reports/deliverables", data=form | {"csrf_token": token}).status_code == 404
    assert _deliverables(world) == 0


def test_entry_pages_start_the_assessments(world: World, login: Login) -> None:
    viewer = browser(login("viewer"))
    page = viewer.get("/assessment/mlps?engagement=JIA").text
    assert "尚未开展等级测评" in page and 'action="/assessment/mlps/init"' not in page
    token = csrf_of(viewer.get("/findings").text)
    assert (
        viewer.post("/assessment/mlps/init", data={"engagement": "JIA", "csrf_token": token})
    ).status_code == 403
    client = browser(login("engineer"))
    page = client.get("/assessment/mlps?engagement=JIA").text
    assert 'action="/assessment/mlps/init"' in page
    assert client.post("/assessment/mlps/init", data={"engagement": "JIA"}).status_code == 403
    assert "尚未开展等级测评" in client.get("/assessment/mlps?engagement=JIA").text
    form = {"engagement": "JIA", "csrf_token": csrf_of(page)}
    started = client.post("/assessment/mlps/init", data=form, follow_redirects=False)
    assert started.status_code == 303
    shown = client.get(started.headers["location"]).text
    assert "尚未开展等级测评" not in shown and 'id="item-8.1.1.1a"' in shown
    ds = client.post("/assessment/datasec/init", data=form, follow_redirects=False)
    assert ds.status_code == 303
    assert 'id="q-col.classification"' in client.get(ds.headers["location"]).text
    other = browser(login("other_owner"))
    other_token = csrf_of(other.get("/findings").text)
    hidden = other.post(
        "/assessment/datasec/init", data={"engagement": "JIA", "csrf_token": other_token}
    )
    assert hidden.status_code == 404
