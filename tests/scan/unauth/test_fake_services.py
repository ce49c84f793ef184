"""Unauthorised-access checks against fake servers speaking the real formats."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from shaobing.findings.severity import Severity
from shaobing.scan.checks import Check, ServiceTarget
from shaobing.scan.plugins.unauthorised_access import (
    CouchDBUnauthCheck,
    DockerUnauthCheck,
    ElasticsearchUnauthCheck,
    KubeletUnauthCheck,
    KubernetesUnauthCheck,
    MongoUnauthCheck,
    ZooKeeperUnauthCheck,
)
from tests.scan.dbcreds.context import TestContext
from tests.scan.dbcreds.fake_mongo import FakeMongo
from tests.scan.dbcreds.helpers import Serve
from tests.scan.unauth.fakes import http_server, self_signed_tls, zookeeper
from tests.services.fake import Handler, drain

ES_ROOT = {
    "name": "node-1",
    "cluster_name": "gov-logs",
    "version": {"number": "7.17.9", "build_flavor": "default"},
    "tagline": "You Know, for Search",
}


def _target(port: int, service: str | None, tls: bool = False) -> ServiceTarget:
    return ServiceTarget("127.0.0.1", port, "tcp", service, tls=tls)


def test_elasticsearch_open(serve: Serve) -> None:
    indices = [{"index": f"idx-{i}"} for i in range(8)]
    port = serve(
        http_server({"/": (200, ES_ROOT), "/_cat/indices?format=json&h=index": (200, indices)})
    )
    found = list(ElasticsearchUnauthCheck().run(_target(port, "elasticsearch"), TestContext()))
    assert len(found) == 1
    evidence = found[0].evidence or ""
    assert "cluster_name=gov-logs" in evidence and "version=7.17.9" in evidence
    assert "共 8 个" in evidence and "idx-0" in evidence
    assert "idx-7" not in evidence  # only the first few names are shown
    assert found[0].severity is Severity.CRITICAL


def test_elasticsearch_with_security_is_not_reported(serve: Serve) -> None:
    denied = {"error": {"type": "security_exception"}, "status": 401}
    port = serve(http_server({"/": (401, denied)}))
    assert list(ElasticsearchUnauthCheck().run(_target(port, "elasticsearch"), TestContext())) == []


def test_plain_web_server_is_not_elasticsearch(serve: Serve) -> None:
    port = serve(http_server({"/": (200, b"<html>hello</html>")}))
    assert list(ElasticsearchUnauthCheck().run(_target(port, "elasticsearch"), TestContext())) == []


def test_docker_api_open(serve: Serve) -> None:
    version = {"Version": "24.0.7", "ApiVersion": "1.43", "Os": "linux", "KernelVersion": "6.1"}
    containers = [{"Id": "a" * 64, "Names": ["/web"]}, {"Id": "b" * 64, "Names": ["/db"]}]
    port = serve(
        http_server(
            {"/version": (200, version), "/containers/json?all=1": (200, containers)}, chunked=True
        )
    )
    found = list(DockerUnauthCheck().run(_target(port, "docker"), TestContext()))
    assert len(found) == 1
    evidence = found[0].evidence or ""
    assert "Version=24.0.7" in evidence and "ApiVersion=1.43" in evidence
    assert "共 2 个" in evidence and "web" in evidence
    assert found[0].cvss_v3_vector == "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"


def test_docker_tls_port_spoken_to_in_plain_http_is_not_reported(serve: Serve) -> None:
    port = serve(
        http_server({"/version": (400, b"Client sent an HTTP request to an HTTPS server.")})
    )
    assert list(DockerUnauthCheck().run(_target(port, "docker"), TestContext())) == []


def test_kubernetes_anonymous_and_forbidden(serve: Serve) -> None:
    forbidden = {"kind": "Status", "status": "Failure", "reason": "Forbidden", "code": 403}
    pods = {"kind": "PodList", "items": [{"metadata": {"name": "coredns-1"}}]}
    open_port = serve(
        http_server({"/api/v1/namespaces": (403, forbidden), "/api/v1/pods": (200, pods)})
    )
    found = list(KubernetesUnauthCheck().run(_target(open_port, None), TestContext()))
    assert [o.check_id for o in found] == ["unauth.kubernetes"]
    assert "coredns-1" in (found[0].evidence or "")
    closed_port = serve(
        http_server({"/api/v1/namespaces": (403, forbidden), "/api/v1/pods": (403, forbidden)})
    )
    assert list(KubernetesUnauthCheck().run(_target(closed_port, None), TestContext())) == []


def test_kubelet_over_tls(serve: Serve) -> None:
    pods = {"kind": "PodList", "items": [{"metadata": {"name": f"p{i}"}} for i in range(3)]}
    port = serve(http_server({"/pods": (200, pods)}, tls=self_signed_tls()))
    found = list(KubeletUnauthCheck().run(_target(port, "kubelet", tls=True), TestContext()))
    assert len(found) == 1 and "共 3 个" in (found[0].evidence or "")


def test_couchdb_admin_party(serve: Serve) -> None:
    port = serve(
        http_server(
            {"/_all_dbs": (200, ["_users", "archive"])}, server="CouchDB/2.3.1 (Erlang OTP/19)"
        )
    )
    found = list(CouchDBUnauthCheck().run(_target(port, "couchdb"), TestContext()))
    assert len(found) == 1 and "archive" in (found[0].evidence or "")
    other = serve(http_server({"/_all_dbs": (200, ["x"])}, server="nginx"))
    assert list(CouchDBUnauthCheck().run(_target(other, "couchdb"), TestContext())) == []


def test_mongodb_without_auth(serve: Serve) -> None:
    port = serve(FakeMongo(require_auth=False).handler)
    found = list(MongoUnauthCheck().run(_target(port, "mongodb"), TestContext()))
    assert len(found) == 1
    evidence = found[0].evidence or ""
    assert "共 4 个数据库" in evidence and "gov_portal" in evidence and "4.4.29" in evidence


def test_mongodb_with_auth_is_not_reported(serve: Serve) -> None:
    port = serve(FakeMongo(require_auth=True).handler)
    assert list(MongoUnauthCheck().run(_target(port, "mongodb"), TestContext())) == []


def test_zookeeper_open(serve: Serve) -> None:
    port = serve(
        zookeeper(four_letter=True, acl_protected=False, children=["zookeeper", "dubbo", "kafka"])
    )
    found = list(ZooKeeperUnauthCheck().run(_target(port, "zookeeper"), TestContext()))
    by_identity = {o.identity: o for o in found}
    assert set(by_identity) == {"4lw", "znodes"}
    assert "Mode: standalone" in (by_identity["4lw"].evidence or "")
    assert by_identity["4lw"].severity is Severity.MEDIUM
    assert "dubbo" in (by_identity["znodes"].evidence or "")


def test_zookeeper_locked_down(serve: Serve) -> None:
    port = serve(zookeeper(four_letter=False, acl_protected=True, children=[]))
    assert list(ZooKeeperUnauthCheck().run(_target(port, "zookeeper"), TestContext())) == []


def _silent(conn: socket.socket, stop: threading.Event) -> None:
    drain(conn, stop)


def _garbage(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(bytes(range(256)) * 16)
    drain(conn, stop)


@pytest.mark.parametrize("handler", [_silent, _garbage], ids=["silent", "garbage"])
@pytest.mark.parametrize(
    ("check", "service"),
    [
        (ElasticsearchUnauthCheck(), "elasticsearch"),
        (DockerUnauthCheck(), "docker"),
        (ZooKeeperUnauthCheck(), "zookeeper"),
        (MongoUnauthCheck(), "mongodb"),
        (CouchDBUnauthCheck(), "couchdb"),
        (KubeletUnauthCheck(), "kubelet"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_broken_peers_yield_nothing_in_time(
    serve: Serve, check: Check, service: str, handler: Handler
) -> None:
    port = serve(handler)
    start = time.monotonic()
    assert list(check.run(_target(port, service), TestContext(timeout=0.4))) == []
    assert time.monotonic() - start < 3.0
