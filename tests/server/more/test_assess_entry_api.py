"""MLPS record entry and data security answers over the API: results, roles, tenants."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from shaobing.assess.datasec.models import DatasecAssessment
from shaobing.assess.mlps.catalogue import load_catalogue
from shaobing.assess.mlps.models import MlpsAssessment
from shaobing.core.db import session_scope
from tests.server.conftest import World
from tests.server.more.helpers import Login, assessment_state, audit_count, one_line_error
from tests.server.work import seed

JIA = {"engagement": "JIA"}


def _seed(world: World) -> None:
    seed.assessments(world.engine, world.own.engagement_id)
    seed.assessments(world.engine, world.other.engagement_id)


def _slot(doc: dict[str, Any], item: str, obj: str) -> dict[str, Any]:
    found = next(i for i in doc["items"] if i["id"] == item)
    return next(r for r in found["records"] if r["object"] == obj)


def test_mlps_items_list_one_category_with_records(world: World, login: Login) -> None:
    viewer = login("viewer")
    missing = viewer.get("/api/v1/mlps/items", params=JIA)
    assert missing.status_code == 404 and "甲单位项目" in one_line_error(missing.text)
    _seed(world)
    everything = viewer.get("/api/v1/mlps/items", params=JIA).json()
    catalogue = load_catalogue(3)
    assert [c["id"] for c in everything["categories"]] == [c.id for c in catalogue.categories]
    assert everything["results"] == ["符合", "部分符合", "不符合", "不适用"]
    pes = viewer.get("/api/v1/mlps/items", params=JIA | {"category": "pes"}).json()
    assert pes["category"] == "PES" and pes["items"]
    assert {i["category_id"] for i in pes["items"]} == {"PES"}
    # Physical requirements concern the machine room only (the seeded ledger has no room).
    assert {r["object"] for i in pes["items"] for r in i["records"]} == {"机房"}
    expected = [
        i.id
        for c in catalogue.categories
        if c.id == "PES"
        for p in c.control_points
        for i in p.items
    ]
    assert [i["id"] for i in pes["items"]] == expected
    by_name = viewer.get("/api/v1/mlps/items", params=JIA | {"category": "安全物理环境"})
    assert by_name.json()["items"] == pes["items"]
    bad = viewer.get("/api/v1/mlps/items", params=JIA | {"category": "XYZ"})
    assert bad.status_code == 400 and "XYZ" in one_line_error(bad.text)


def test_mlps_record_is_stored_scored_and_audited(world: World, login: Login) -> None:
    _seed(world)
    engineer = login("engineer")
    audits = audit_count(world, "mlps.record")
    saved = engineer.post(
        "/api/v1/mlps/items/8.1.1.1 a)/record",
        params=JIA,
        json={"object": "机房", "result": "不符合", "evidence": "机房屋顶渗水", "note": "现场核查"},
    )
    assert saved.status_code == 200, saved.text
    data = saved.json()
    assert data["item"] == "8.1.1.1a" and data["label"] == "8.1.1.1 a)"
    assert (data["result"], data["source"], data["updated_by"]) == (
        "不符合",
        "manual",
        "web:engineer",
    )
    assert audit_count(world, "mlps.record") == audits + 1
    doc = login("owner").get("/api/v1/mlps/items", params=JIA | {"category": "PES"}).json()
    slot = _slot(doc, "8.1.1.1a", "机房")
    assert (slot["result"], slot["evidence"], slot["note"]) == (
        "不符合",
        "机房屋顶渗水",
        "现场核查",
    )
    pes = next(c for c in doc["categories"] if c["id"] == "PES")
    assert pes["recorded"] >= 1
    # Only items with an object still unrecorded remain under the filter.
    open_items = engineer.get(
        "/api/v1/mlps/items", params=JIA | {"category": "PES", "unrecorded": "true"}
    ).json()["items"]
    assert "8.1.1.1a" not in [i["id"] for i in open_items]
    assert len(open_items) == len(doc["items"]) - pes["recorded"]
    score = engineer.get("/api/v1/mlps/score", params=JIA).json()
    assert score["score"]["by_category"]["安全物理环境"]["counts"]["不符合"] >= 1
    # The other tenant's assessment did not move.
    other = login("admin").get("/api/v1/mlps/items", params={"engagement": "YI", "category": "PES"})
    assert _slot(other.json(), "8.1.1.1a", "机房")["result"] is None


def test_mlps_record_refuses_bad_input_in_one_line(world: World, login: Login) -> None:
    _seed(world)
    engineer = login("engineer")
    before = assessment_state(world)
    cases = [
        ("8.1.1.1a", {"object": "机房", "result": "好"}, 400, "好"),
        ("8.1.1.1a", {"object": "安全管理中心", "result": "符合"}, 400, "安全管理中心"),
        ("9.9.9.9z", {"object": "机房", "result": "符合"}, 400, "9.9.9.9z"),
        ("8.1.1.1a", {"object": "不存在的机房", "result": "符合"}, 404, "不存在的机房"),
    ]
    for item, body, status, named in cases:
        response = engineer.post(f"/api/v1/mlps/items/{item}/record", params=JIA, json=body)
        assert response.status_code == status, response.text
        assert named in one_line_error(response.text)
    too_long = engineer.post(
        "/api/v1/mlps/items/8.1.1.1a/record",
        params=JIA,
        json={"object": "机房", "result": "符合", "evidence": "x" * 20_001},
    )
    assert too_long.status_code == 422
    assert assessment_state(world) == before


def test_mlps_record_refused_for_roles_and_other_tenant(
    world: World, login: Login, bearer: Login
) -> None:
    _seed(world)
    body = {"object": "机房", "result": "符合"}
    before = assessment_state(world)
    for user in ("auditor", "viewer", "owner"):
        refused = login(user).post("/api/v1/mlps/items/8.1.1.1a/record", params=JIA, json=body)
        assert refused.status_code == 403, (user, refused.text)
    for user, ref in (
        ("other_owner", "JIA"),
        ("owner", "YI"),
        ("viewer", str(world.other.engagement_id)),
    ):
        refused = login(user).post(
            "/api/v1/mlps/items/8.1.1.1a/record", params={"engagement": ref}, json=body
        )
        assert refused.status_code == 404, (user, refused.text)
    assert login("other_viewer").get("/api/v1/mlps/items", params=JIA).status_code == 404
    no_csrf = login("engineer")
    no_csrf.headers.pop("X-CSRF-Token")
    assert (
        no_csrf.post("/api/v1/mlps/items/8.1.1.1a/record", params=JIA, json=body).status_code == 403
    )
    assert assessment_state(world) == before
    done = bearer("admin").post("/api/v1/mlps/items/8.1.1.1a/record", params=JIA, json=body)
    assert done.status_code == 200 and done.json()["updated_by"] == "web:admin"


def test_datasec_questions_and_answers(world: World, login: Login) -> None:
    viewer = login("viewer")
    assert viewer.get("/api/v1/datasec/questions", params=JIA).status_code == 404
    _seed(world)
    doc = viewer.get("/api/v1/datasec/questions", params=JIA).json()
    stages = [s["id"] for s in doc["stages"]]
    assert stages[0] == "collection" and len(stages) == 6
    assert sum(s["questions"] for s in doc["stages"]) == len(doc["items"])
    collection = viewer.get("/api/v1/datasec/questions", params=JIA | {"stage": "collection"})
    assert {q["stage"] for q in collection.json()["items"]} == {"collection"}
    bad = viewer.get("/api/v1/datasec/questions", params=JIA | {"stage": "moon"})
    assert bad.status_code == 400 and "moon" in one_line_error(bad.text)
    engineer = login("engineer")
    audits = audit_count(world, "datasec.answer")
    answered = engineer.post(
        "/api/v1/datasec/questions/col.classification/answer",
        params=JIA,
        json={"answer": "部分", "evidence": "分类分级清单未覆盖日志数据", "note": "访谈"},
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["answer"] == "部分" and answered.json()["source"] == "manual"
    assert audit_count(world, "datasec.answer") == audits + 1
    after = viewer.get("/api/v1/datasec/questions", params=JIA | {"stage": "collection"}).json()
    row = next(q for q in after["items"] if q["id"] == "col.classification")
    assert (row["answer"], row["evidence"], row["updated_by"]) == (
        "部分",
        "分类分级清单未覆盖日志数据",
        "web:engineer",
    )
    open_ = viewer.get(
        "/api/v1/datasec/questions", params=JIA | {"stage": "collection", "unanswered": "true"}
    ).json()["items"]
    assert "col.classification" not in [q["id"] for q in open_]
    assert all(q["answer"] is None for q in open_)
    gaps = viewer.get("/api/v1/datasec/score", params=JIA).json()["gaps"]
    assert "col.classification" in [g["question_id"] for g in gaps]
    wrong = engineer.post(
        "/api/v1/datasec/questions/col.classification/answer", params=JIA, json={"answer": "也许"}
    )
    assert wrong.status_code == 400 and "也许" in one_line_error(wrong.text)
    unknown = engineer.post(
        "/api/v1/datasec/questions/no.such/answer", params=JIA, json={"answer": "是"}
    )
    assert unknown.status_code == 400 and "no.such" in one_line_error(unknown.text)


def test_datasec_answer_refused_for_roles_and_other_tenant(world: World, login: Login) -> None:
    _seed(world)
    url = "/api/v1/datasec/questions/col.classification/answer"
    before = assessment_state(world)
    for user in ("auditor", "viewer", "owner"):
        assert login(user).post(url, params=JIA, json={"answer": "是"}).status_code == 403
    assert login("other_owner").post(url, params=JIA, json={"answer": "是"}).status_code == 404
    assert (
        login("owner").post(url, params={"engagement": "YI"}, json={"answer": "是"}).status_code
        == 404
    )
    assert login("other_viewer").get("/api/v1/datasec/questions", params=JIA).status_code == 404
    assert assessment_state(world) == before


def _assessments(world: World) -> tuple[int, int]:
    with session_scope(world.engine, readonly=True) as db:
        return (
            int(db.scalar(select(func.count()).select_from(MlpsAssessment)) or 0),
            int(db.scalar(select(func.count()).select_from(DatasecAssessment)) or 0),
        )


def test_assessments_are_started_from_the_api(world: World, login: Login) -> None:
    before = _assessments(world)
    for user in ("auditor", "viewer", "owner"):
        client = login(user)
        assert client.post("/api/v1/mlps/init", params=JIA, json={}).status_code == 403
        assert client.post("/api/v1/datasec/init", params=JIA).status_code == 403
    other = login("other_owner")
    assert other.post("/api/v1/mlps/init", params=JIA, json={}).status_code == 404
    assert other.post("/api/v1/datasec/init", params=JIA).status_code == 404
    assert _assessments(world) == before == (0, 0)
    engineer = login("engineer")
    bad = engineer.post("/api/v1/mlps/init", params=JIA, json={"flags": ["shiny"]})
    assert bad.status_code == 400 and "shiny" in one_line_error(bad.text)
    started = engineer.post(
        "/api/v1/mlps/init", params=JIA, json={"level": 3, "flags": ["remote_admin"]}
    )
    assert started.status_code == 200, started.text
    doc = started.json()
    assert doc["created"] and doc["level"] == 3 and doc["flags"] == ["remote_admin"]
    assert {"机房", "安全管理中心", "安全管理文档与记录"} <= {o["name"] for o in doc["objects"]}
    again = engineer.post("/api/v1/mlps/init", params=JIA, json={}).json()
    assert again["assessment_id"] == doc["assessment_id"] and not again["created"]
    ds = engineer.post("/api/v1/datasec/init", params=JIA)
    assert ds.status_code == 200 and ds.json()["assessment_id"] >= 1
    assert audit_count(world, "datasec.init") == 1
    assert _assessments(world) == (1, 1)
    items = login("viewer").get("/api/v1/mlps/items", params=JIA).json()
    assert items["assessment_id"] == doc["assessment_id"]
