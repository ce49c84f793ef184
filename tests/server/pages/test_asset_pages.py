"""资产台账: the upload import (page and API), listing, detail, export, tenant rule."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select

from shaobing.assets.models import Asset
from shaobing.core.db import session_scope
from tests.server.conftest import World

LEDGER = (
    "资产名称,资产类型,IP地址,责任人,保密性,完整性,可用性\n"
    "门户服务器01,主机,192.168.1.10,王工,3,3,4\n"
    "数据库01,数据库,192.168.1.20,李工,5,4,4\n"
)


def _asset_ids(world: World, client_id: int) -> dict[str, int]:
    with session_scope(world.engine, readonly=True) as db:
        rows = db.execute(select(Asset.name, Asset.id).where(Asset.client_id == client_id))
        return dict(rows.all())


def _upload(text: str, name: str = "台账.csv") -> dict[str, tuple[str, bytes, str]]:
    return {"file": (name, text.encode("utf-8-sig"), "text/csv")}


def test_page_import_and_ledger(world: World, login: Callable[[str], TestClient]) -> None:
    owner = login("owner")
    done = owner.post("/assets/import", files=_upload(LEDGER), follow_redirects=False)
    assert done.status_code == 303
    page = owner.get(done.headers["location"])
    assert "新增 2 项" in page.text and "门户服务器01" in page.text and "192.168.1.20" in page.text
    ids = _asset_ids(world, world.own.client_id)
    assert {"门户服务器01", "数据库01"} <= set(ids)
    assert "门户服务器01" not in _asset_ids(world, world.other.client_id)
    assert "门户服务器01" not in login("other_owner").get("/assets").text
    detail = owner.get(f"/assets/{ids['门户服务器01']}")
    assert detail.status_code == 200 and "变更历史" in detail.text and "王工" in detail.text
    assert login("other_viewer").get(f"/assets/{ids['门户服务器01']}").status_code == 404
    filtered = owner.get("/assets?q=李工")
    assert "数据库01" in filtered.text and "门户服务器01" not in filtered.text
    # Staff pick the client; the other tenant's owner cannot import into 甲.
    assert "门户服务器01" in login("engineer").get(f"/assets?client={world.own.client_id}").text
    foreign = login("other_owner").post(
        "/assets/import", files=_upload(LEDGER), data={"client": str(world.own.client_id)}
    )
    assert foreign.status_code == 404
    assert login("viewer").post("/assets/import", files=_upload(LEDGER)).status_code == 403


def test_bad_ledger_is_refused_whole(world: World, login: Callable[[str], TestClient]) -> None:
    bad = LEDGER + "坏行,不存在的类型,999.1.1.1,,3,3,3\n"
    page = login("owner").post("/assets/import", files=_upload(bad))
    assert page.status_code == 400 and 'class="alert"' in page.text and "不存在的类型" in page.text
    assert "门户服务器01" not in _asset_ids(world, world.own.client_id)
    skipped = login("owner").post(
        "/api/v1/assets/import", files=_upload(bad), data={"skip_bad": "true"}
    )
    assert skipped.status_code == 200 and skipped.json()["created"] == 2
    assert len(skipped.json()["errors"]) >= 1
    refused = login("owner").post("/api/v1/assets/import", files=_upload(bad))
    assert refused.status_code == 400 and refused.json()["errors"]


def test_api_list_show_export(
    world: World, login: Callable[[str], TestClient], bearer: Callable[[str], TestClient]
) -> None:
    engineer = bearer("engineer")
    made = engineer.post(
        "/api/v1/assets/import",
        files=_upload(LEDGER),
        data={"client": str(world.other.client_id)},
    )
    assert made.status_code == 200, made.text
    assert made.json()["client"]["id"] == world.other.client_id
    assert engineer.get("/api/v1/assets").status_code == 400  # staff must name the client
    listing = login("other_viewer").get("/api/v1/assets", params={"type": "database"})
    assert [a["name"] for a in listing.json()["items"]] == ["数据库01"]
    own = login("viewer").get("/api/v1/assets").json()["items"]
    assert own and "门户服务器01" not in {a["name"] for a in own}
    denied = login("viewer").get("/api/v1/assets", params={"client": world.other.client_id})
    assert denied.status_code == 404
    asset_id = _asset_ids(world, world.other.client_id)["门户服务器01"]
    shown = login("other_owner").get(f"/api/v1/assets/{asset_id}").json()
    assert shown["history"][0]["kind"] == "created" and shown["services"] == []
    assert login("owner").get(f"/api/v1/assets/{asset_id}").status_code == 404
    exported = login("other_viewer").get("/api/v1/assets/export", params={"format": "csv"})
    assert exported.status_code == 200
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert {"门户服务器01", "数据库01"} <= {r[0] for r in rows}
    assert (
        login("auditor")
        .get("/api/v1/assets/export", params={"client": world.other.client_id})
        .status_code
        == 403
    )
    assert "门户服务器01" not in _asset_ids(world, world.own.client_id)
