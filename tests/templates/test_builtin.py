"""The built-in checks (``shaobing/templates/builtin``): each one loads with no unsupported
feature, carries the required Chinese metadata and a CVSS vector that agrees with its
severity, matches a mock that imitates the vulnerable service and does not match a near
miss. ``CASES`` must name every template: a new template without its cases fails."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cvss import CVSS3

import shaobing.templates
from shaobing.cli.templates import build_context
from shaobing.templates.loader import load_template
from shaobing.templates.model import Template
from shaobing.templates.runner import run_template
from shaobing.templates.state import TemplateResult
from tests.targets import (
    MockHttpTarget,
    MockTcpTarget,
    Request,
    Response,
    basic_login,
    by_header,
    by_method,
    form_login,
    json_login,
)
from tests.targets.http import Route

BUILTIN = Path(shaobing.templates.__file__).parent / "builtin"
FILES = sorted(BUILTIN.rglob("*.yaml"))
TEMPLATES: dict[str, Template] = {}
for _file in FILES:
    _template = load_template(_file, root=BUILTIN)
    TEMPLATES.setdefault(_template.id, _template)

SEVERITY_OF_RATING = {
    "None": "info",
    "Low": "low",
    "Medium": "medium",
    "High": "high",
    "Critical": "critical",
}
PASSIVE_METHODS = {"GET", "HEAD", "TRACE"}

# ----------------------------------------------------------------------------- helpers


def j(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response."""
    return Response(
        status,
        json.dumps(data, ensure_ascii=False),
        {"Content-Type": "application/json;charset=UTF-8", **(headers or {})},
    )


def h(body: str, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """An HTML response."""
    return Response(status, body, {"Content-Type": "text/html;charset=UTF-8", **(headers or {})})


def t(body: str | bytes, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A plain text (or binary) response."""
    return Response(status, body, {"Content-Type": "text/plain", **(headers or {})})


SOFT_404 = h("<html><head><title>政务服务平台</title></head><body>页面不存在</body></html>")
WHITELABEL = h(
    "<html><body><h1>Whitelabel Error Page</h1><p>This application has no explicit mapping "
    "for /error</p></body></html>",
    404,
)
SPRING_401 = j(
    {"timestamp": "2024-05-01T08:00:00.000+00:00", "status": 401, "error": "Unauthorized"}, 401
)
BASIC_401 = t("Unauthorized", 401, {"WWW-Authenticate": 'Basic realm="Restricted"'})


def bson(document: Mapping[str, Any]) -> bytes:
    """A minimal BSON encoder (documents, arrays, strings, ints, doubles, booleans)."""
    out = b""
    for key, value in document.items():
        name = key.encode() + b"\x00"
        if isinstance(value, bool):
            out += b"\x08" + name + (b"\x01" if value else b"\x00")
        elif isinstance(value, int):
            out += b"\x10" + name + struct.pack("<i", value)
        elif isinstance(value, float):
            out += b"\x01" + name + struct.pack("<d", value)
        elif isinstance(value, str):
            data = value.encode() + b"\x00"
            out += b"\x02" + name + struct.pack("<i", len(data)) + data
        elif isinstance(value, list):
            out += b"\x04" + name + bson({str(i): item for i, item in enumerate(value)})
        else:
            out += b"\x03" + name + bson(value)
    return struct.pack("<i", len(out) + 5) + out + b"\x00"


def op_msg(document: Mapping[str, Any]) -> Callable[[bytes], bytes]:
    """A MongoDB server answering every OP_MSG with ``document``."""

    def respond(data: bytes) -> bytes:
        assert struct.unpack("<i", data[12:16])[0] == 2013
        body = struct.pack("<I", 0) + b"\x00" + bson(document)
        request_id = struct.unpack("<i", data[4:8])[0]
        return struct.pack("<iiii", 16 + len(body), 7, request_id, 2013) + body

    return respond


def redis(reply: bytes) -> Callable[[bytes], bytes]:
    def respond(data: bytes) -> bytes:
        assert data.upper().startswith(b"INFO")
        return reply

    return respond


def line_reply(command: bytes, reply: bytes) -> Callable[[bytes], bytes | None]:
    def respond(data: bytes) -> bytes | None:
        assert data.startswith(command)
        return reply

    return respond


def trace_echo(request: Request) -> Response:
    head = f"{request.method} {request.target} HTTP/1.1\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in request.headers.items())
    return Response(200, head, {"Content-Type": "message/http"})


def cors_reflect(request: Request) -> Response:
    return h(
        "<html>ok</html>",
        headers={
            "Access-Control-Allow-Origin": request.header("Origin") or "*",
            "Access-Control-Allow-Credentials": "true",
        },
    )


# ------------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    """One mock target: HTTP routes or a TCP reply function; ``extract`` is a value the
    template must report when it matches."""

    routes: Mapping[str, Route] = field(default_factory=dict)
    tcp: Callable[[bytes], bytes | None] | None = None
    extract: str | None = None


def http(routes: Mapping[str, Route], extract: str | None = None) -> Case:
    return Case(routes=routes, extract=extract)


def tcp(respond: Callable[[bytes], bytes | None], extract: str | None = None) -> Case:
    return Case(tcp=respond, extract=extract)


REDIS_INFO = (
    b"# Server\r\nredis_version:6.2.6\r\nredis_mode:standalone\r\nos:Linux 5.10.0 x86_64\r\n"
)
ZK_ENV = (
    b"Environment:\nzookeeper.version=3.4.14-4c25d480e66aadd371de8bd2fd8da255ac140bcf, built on "
    b"03/06/2019 16:18 GMT\nhost.name=zk-1\njava.version=1.8.0_292\n"
)
NACOS_USERS = j(
    {
        "totalCount": 1,
        "pageNumber": 1,
        "pagesAvailable": 1,
        "pageItems": [{"username": "nacos", "password": "$2a$10$EuWPZHzz32dJN7jexM34MOeYirDdFAZm"}],
    }
)
NACOS_403 = j(
    {
        "timestamp": "2024-05-01T08:00:00.000+08:00",
        "status": 403,
        "error": "Forbidden",
        "message": "unknown user!",
        "path": "/nacos/v1/auth/users",
    },
    403,
)
WEBLOGIC_404 = h(
    "<html><head><title>Error 404--Not Found</title></head><body><h2>Error 404--Not Found</h2>"
    "<p>From RFC 2068 <i>Hypertext Transfer Protocol -- HTTP/1.1</i>:</p></body></html>",
    404,
)
WSDL_PAGE = (
    "<html><head><title>Web Services</title></head><body><h2>{name}</h2><table>"
    "<tr><td>Service Name:</td><td>{{http://www.bea.com}}{name}Service</td></tr>"
    '<tr><td><a href="http://10.0.0.7:7001/{path}?WSDL">?WSDL</a></td></tr></table></body></html>'
)
ACTUATOR_LINKS = {
    "self": {"href": "http://10.0.0.9:8080/actuator", "templated": False},
    "health": {"href": "http://10.0.0.9:8080/actuator/health", "templated": False},
    "info": {"href": "http://10.0.0.9:8080/actuator/info", "templated": False},
}
TOMCAT_MANAGER = h(
    "<html><head><title>/manager</title></head><body><h1>Tomcat Web Application Manager</h1>"
    "</body></html>"
)
LOGIN_PAGE = h("<html><head><title>统一身份认证平台</title></head><body>请登录</body></html>")

CASES: dict[str, tuple[Case, Case]] = {
    # ------------------------------------------------------------------ unauth
    "sb-redis-unauth": (
        tcp(redis(b"$%d\r\n%s\r\n" % (len(REDIS_INFO), REDIS_INFO)), extract="6.2.6"),
        tcp(redis(b"-NOAUTH Authentication required.\r\n")),
    ),
    "sb-mongodb-unauth": (
        tcp(
            op_msg(
                {
                    "databases": [{"name": "admin"}, {"name": "gov_portal"}],
                    "ok": 1.0,
                }
            )
        ),
        tcp(
            op_msg(
                {
                    "ok": 0.0,
                    "errmsg": "command listDatabases requires authentication",
                    "code": 13,
                    "codeName": "Unauthorized",
                }
            )
        ),
    ),
    "sb-memcached-unauth": (
        tcp(
            line_reply(
                b"stats", b"STAT pid 1021\r\nSTAT uptime 8812\r\nSTAT version 1.6.21\r\nEND\r\n"
            ),
            extract="1.6.21",
        ),
        tcp(line_reply(b"stats", b"CLIENT_ERROR unauthenticated\r\n")),
    ),
    "sb-zookeeper-unauth": (
        tcp(line_reply(b"envi", ZK_ENV), extract="3.4.14"),
        tcp(line_reply(b"envi", b"envi is not executed because it is not in the whitelist.\n")),
    ),
    "sb-elasticsearch-unauth": (
        http(
            {
                "/_cat/indices": t(
                    "health status index     uuid                   pri rep docs.count\n"
                    "green  open   gov_users 8Jx1mQ3nSfy0bJv2cR3b9Q   1   0      10233\n"
                )
            }
        ),
        http(
            {
                "/_cat/indices": j(
                    {
                        "error": {
                            "root_cause": [
                                {
                                    "type": "security_exception",
                                    "reason": "missing authentication credentials for REST "
                                    "request [/_cat/indices?v]",
                                }
                            ]
                        },
                        "status": 401,
                    },
                    401,
                )
            }
        ),
    ),
    "sb-docker-api-unauth": (
        http(
            {
                "/version": j(
                    {
                        "Platform": {"Name": "Docker Engine - Community"},
                        "Version": "20.10.7",
                        "ApiVersion": "1.41",
                        "MinAPIVersion": "1.12",
                        "GitCommit": "b0f5bc3",
                        "GoVersion": "go1.13.15",
                        "Os": "linux",
                    }
                ),
                "/containers/json": j(
                    [{"Id": "8dfafdbc3a40", "Image": "nginx:1.21", "Command": "nginx -g"}]
                ),
            },
            extract="20.10.7",
        ),
        http({"/version": j({"version": "2.3.1", "build": "abc"}), "/containers/json": j([])}),
    ),
    "sb-kubernetes-api-anonymous": (
        http(
            {
                "/api/v1/namespaces": j(
                    {
                        "kind": "NamespaceList",
                        "apiVersion": "v1",
                        "metadata": {"resourceVersion": "1022"},
                        "items": [
                            {"metadata": {"name": "default"}},
                            {"metadata": {"name": "kube-system"}},
                        ],
                    }
                )
            },
            extract="kube-system",
        ),
        http(
            {
                "/api/v1/namespaces": j(
                    {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "status": "Failure",
                        "message": 'namespaces is forbidden: User "system:anonymous" cannot '
                        'list resource "namespaces" in API group "" at the cluster scope',
                        "reason": "Forbidden",
                        "details": {"kind": "NamespaceList"},
                        "code": 403,
                    },
                    403,
                )
            }
        ),
    ),
    "sb-kubelet-unauth": (
        http({"/pods": j({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": []})}),
        http({"/pods": t("Unauthorized", 401)}),
    ),
    "sb-hadoop-yarn-unauth": (
        http(
            {
                "/ws/v1/cluster/info": j(
                    {
                        "clusterInfo": {
                            "id": 1714550400000,
                            "state": "STARTED",
                            "haState": "ACTIVE",
                            "resourceManagerVersion": "3.3.1",
                            "hadoopVersion": "3.3.1",
                        }
                    }
                )
            },
            extract="3.3.1",
        ),
        http(
            {
                "/ws/v1/cluster/info": h(
                    "<html><title>Error 401 Authentication required</title><body>"
                    "<h2>HTTP ERROR 401 Authentication required</h2></body></html>",
                    401,
                )
            }
        ),
    ),
    "sb-couchdb-unauth": (
        http(
            {
                "/_all_dbs": j(
                    ["_replicator", "_users", "gov_docs"],
                    headers={"Server": "CouchDB/3.2.2 (Erlang OTP/23)"},
                )
            },
            extract="3.2.2",
        ),
        http(
            {
                "/_all_dbs": j(
                    {"error": "unauthorized", "reason": "You are not a server admin."},
                    401,
                    {"Server": "CouchDB/3.2.2 (Erlang OTP/23)"},
                )
            }
        ),
    ),
    "sb-etcd-unauth": (
        http(
            {
                "/v2/keys/": j(
                    {
                        "action": "get",
                        "node": {"dir": True, "nodes": [{"key": "/registry", "dir": True}]},
                    }
                )
            }
        ),
        http(
            {
                "/v2/keys/": j(
                    {
                        "errorCode": 110,
                        "message": "The request requires user authentication",
                        "cause": "Insufficient credentials",
                        "index": 0,
                    },
                    401,
                )
            }
        ),
    ),
    "sb-consul-agent-unauth": (
        http(
            {
                "/v1/agent/self": j(
                    {
                        "Config": {"Datacenter": "dc1", "NodeName": "consul-1", "Version": "1.9.5"},
                        "DebugConfig": {"EnableRemoteScriptChecks": False},
                        "Member": {"Name": "consul-1"},
                    }
                )
            },
            extract="1.9.5",
        ),
        http({"/v1/agent/self": t("Permission denied", 403)}),
    ),
    "sb-solr-admin-unauth": (
        http(
            {
                "/solr/admin/cores": j(
                    {
                        "responseHeader": {"status": 0, "QTime": 2},
                        "initFailures": {},
                        "status": {
                            "gov_core": {
                                "name": "gov_core",
                                "instanceDir": "/var/solr/data/gov_core",
                            }
                        },
                    }
                )
            },
            extract="/var/solr/data/gov_core",
        ),
        http(
            {
                "/solr/admin/cores": h(
                    "<html><body><h2>HTTP ERROR 401 require authentication</h2></body></html>",
                    401,
                    {"WWW-Authenticate": 'Basic realm="solr"'},
                )
            }
        ),
    ),
    "sb-jenkins-script-console-unauth": (
        http(
            {
                "/script": h(
                    "<html><head><title>Script Console [Jenkins]</title></head><body>"
                    "<h1>Script Console</h1><p>Type in an arbitrary <a href='http://www.groovy-lang.org'>"
                    "Groovy script</a> and execute it on the server.</p>"
                    "<textarea name='script'></textarea></body></html>",
                    headers={"X-Jenkins": "2.289.1"},
                )
            }
        ),
        http(
            {
                "/script": h(
                    "<html><head><title>Sign in [Jenkins]</title></head><body>"
                    "<form action='j_spring_security_check'>Script Console login</form>"
                    "</body></html>",
                    headers={"X-Jenkins": "2.289.1"},
                )
            }
        ),
    ),
    "sb-jenkins-api-anonymous": (
        http(
            {
                "/api/json": j(
                    {
                        "_class": "hudson.model.Hudson",
                        "mode": "NORMAL",
                        "nodeDescription": "the master Jenkins node",
                        "jobs": [{"name": "portal-build", "url": "http://ci/job/portal-build/"}],
                    },
                    headers={"X-Jenkins": "2.289.1"},
                )
            }
        ),
        http(
            {
                "/api/json": h(
                    "<html><body>Authentication required</body></html>",
                    403,
                    {"X-Jenkins": "2.289.1"},
                )
            }
        ),
    ),
    "sb-grafana-anonymous": (
        http(
            {
                "/api/org": j(
                    {
                        "id": 1,
                        "name": "Main Org.",
                        "address": {
                            "address1": "",
                            "address2": "",
                            "city": "",
                            "zipCode": "",
                            "state": "",
                            "country": "",
                        },
                    }
                )
            },
            extract="Main Org.",
        ),
        http({"/api/org": j({"message": "Unauthorized"}, 401)}),
    ),
    "sb-kibana-anonymous": (
        http(
            {
                "/api/status": j(
                    {
                        "name": "kibana",
                        "uuid": "5b2de169-2785-441b-ae8c-186a1936b17d",
                        "version": {
                            "number": "7.10.2",
                            "build_hash": "a0b7ab5",
                            "build_number": 36111,
                        },
                        "status": {"overall": {"state": "green"}},
                    },
                    headers={"kbn-name": "kibana"},
                )
            },
            extract="7.10.2",
        ),
        http(
            {
                "/api/status": j(
                    {
                        "statusCode": 401,
                        "error": "Unauthorized",
                        "message": "[security_exception] missing authentication credentials",
                    },
                    401,
                )
            }
        ),
    ),
    "sb-jupyter-unauth": (
        http(
            {
                "/api/contents": Response(
                    200,
                    '{"name": "", "path": "", "last_modified": "2024-05-01T08:00:00Z", '
                    '"content": [{"name": "analysis.ipynb", "type": "notebook"}], '
                    '"format": "json", "writable": true, "type": "directory"}',
                    {"Content-Type": "application/json", "Server": "TornadoServer/6.1"},
                )
            }
        ),
        http({"/api/contents": j({"message": "Forbidden", "reason": None}, 403)}),
    ),
    "sb-prometheus-targets-exposed": (
        http(
            {
                "/api/v1/targets": j(
                    {
                        "status": "success",
                        "data": {
                            "activeTargets": [
                                {
                                    "labels": {"job": "node"},
                                    "scrapeUrl": "http://10.1.2.3:9100/metrics",
                                    "health": "up",
                                }
                            ],
                            "droppedTargets": [],
                        },
                    }
                )
            },
            extract="http://10.1.2.3:9100/metrics",
        ),
        http({"/api/v1/targets": BASIC_401}),
    ),
    "sb-prometheus-metrics-exposed": (
        http(
            {
                "/metrics": t(
                    "# HELP go_goroutines Number of goroutines that currently exist.\n"
                    "# TYPE go_goroutines gauge\ngo_goroutines 42\n"
                )
            }
        ),
        http(
            {
                "/metrics": h(
                    "<html><head><title>运行监控</title></head><body># HELP 帮助 metrics 指标"
                    "</body></html>"
                )
            }
        ),
    ),
    "sb-nacos-users-unauth": (
        http({"/nacos/v1/auth/users": NACOS_USERS}, extract="nacos"),
        http({"/nacos/v1/auth/users": NACOS_403, "/v1/auth/users": NACOS_403}),
    ),
    "sb-nacos-ua-bypass": (
        http(
            {
                "/nacos/v1/auth/users": by_header(
                    "User-Agent", "Nacos-Server", NACOS_USERS, NACOS_403
                )
            }
        ),
        http({"/nacos/v1/auth/users": NACOS_403}),
    ),
    "sb-apollo-configservice-exposed": (
        http(
            {
                "/services/config": j(
                    [
                        {
                            "appName": "APOLLO-CONFIGSERVICE",
                            "instanceId": "10.0.0.3:apollo-configservice:8080",
                            "homepageUrl": "http://10.0.0.3:8080/",
                        }
                    ]
                )
            },
            extract="http://10.0.0.3:8080/",
        ),
        http({"*": SOFT_404}),
    ),
    "sb-apollo-adminservice-unauth": (
        http(
            {
                "/apps": j(
                    [
                        {
                            "name": "gov-portal",
                            "appId": "gov-portal",
                            "orgId": "TEST1",
                            "orgName": "样例部门1",
                            "ownerName": "apollo",
                            "ownerEmail": "apollo@acme.com",
                        }
                    ]
                )
            },
            extract="gov-portal",
        ),
        http({"/apps": Response(302, "", {"Location": "/signin"})}),
    ),
    "sb-harbor-public-projects": (
        http(
            {
                "/api/v2.0/projects": j(
                    [
                        {
                            "project_id": 1,
                            "name": "library",
                            "metadata": {"public": "true"},
                            "repo_count": 3,
                        }
                    ]
                )
            },
            extract="library",
        ),
        http({"/api/v2.0/projects": j([]), "/api/projects": j([])}),
    ),
    "sb-gitlab-public-projects": (
        http(
            {
                "/api/v4/projects": j(
                    [
                        {
                            "id": 3,
                            "name": "portal",
                            "path_with_namespace": "gov/portal",
                            "http_url_to_repo": "http://gitlab.gov.local/gov/portal.git",
                        }
                    ]
                )
            },
            extract="gov/portal",
        ),
        http({"/api/v4/projects": j([])}),
    ),
    "sb-phpmyadmin-unauth": (
        http(
            {
                "/pma/": h(
                    "<html><head><title>localhost / localhost | phpMyAdmin 4.4.15.10</title>"
                    "</head><body><a href='server_databases.php?token=abc'>数据库</a>"
                    "</body></html>"
                )
            }
        ),
        http(
            {
                "/phpmyadmin/": h(
                    "<html><head><title>phpMyAdmin</title></head><body><form>"
                    "<input id='input_username' name='pma_username'>"
                    "<input id='input_password' name='pma_password'>"
                    "<a href='server_databases.php'>x</a></form></body></html>"
                )
            }
        ),
    ),
    "sb-druid-monitor-unauth": (
        http(
            {
                "/druid/index.html": h(
                    "<html><head><title>Druid Stat Index</title></head><body>"
                    "<script>$(function(){druid.index.init();});</script></body></html>"
                )
            }
        ),
        http(
            {
                "/druid/index.html": Response(302, "", {"Location": "/druid/login.html"}),
                "/druid/login.html": h("<html><title>druid monitor login</title></html>"),
            }
        ),
    ),
    "sb-druid-websession-unauth": (
        http(
            {
                "/druid/websession.json": j(
                    {
                        "ResultCode": 1,
                        "Content": [
                            {
                                "SESSIONID": "B1C2D3E4F5A6B7C8D9E0F1A2B3C4D5E6",
                                "Principal": None,
                                "RemoteAddress": "10.0.0.55",
                            }
                        ],
                    }
                )
            }
        ),
        http({"/druid/websession.json": j({"ResultCode": 1, "Content": []})}),
    ),
    "sb-rocketmq-dashboard-unauth": (
        http(
            {
                "/cluster/list.query": j(
                    {
                        "status": 0,
                        "data": {
                            "clusterInfo": {
                                "brokerAddrTable": {"broker-a": {}},
                                "clusterAddrTable": {"DefaultCluster": ["broker-a"]},
                            }
                        },
                        "errMsg": None,
                    }
                )
            }
        ),
        http({"/cluster/list.query": j({"status": -1, "data": None, "errMsg": "未登录"})}),
    ),
    "sb-flink-dashboard-unauth": (
        http(
            {
                "/config": j(
                    {
                        "refresh-interval": 3000,
                        "timezone-name": "China Time",
                        "flink-version": "1.11.2",
                        "features": {"web-submit": True},
                    }
                )
            },
            extract="1.11.2",
        ),
        http({"/config": j({"app": "gov-portal", "refresh": 30})}),
    ),
    "sb-kong-admin-unauth": (
        http(
            {
                "/": j(
                    {
                        "plugins": {"available_on_server": {"acl": True}},
                        "tagline": "Welcome to kong",
                        "version": "2.8.1",
                    }
                )
            },
            extract="2.8.1",
        ),
        http({"/": j({"message": "no Route matched with those values"}, 404)}),
    ),
    "sb-docker-registry-unauth": (
        http(
            {
                "/v2/_catalog": j(
                    {"repositories": ["gov/portal", "nginx"]},
                    headers={"Docker-Distribution-Api-Version": "registry/2.0"},
                )
            }
        ),
        http(
            {
                "/v2/_catalog": j(
                    {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
                    401,
                    {"Docker-Distribution-Api-Version": "registry/2.0"},
                )
            }
        ),
    ),
    "sb-eureka-dashboard-exposed": (
        http(
            {
                "/": h(
                    "<html><head><title>Eureka</title></head><body>"
                    "<h2>Instances currently registered with Eureka</h2></body></html>"
                )
            }
        ),
        http({"*": BASIC_401}),
    ),
    # ------------------------------------------------------------- default logins
    "sb-nacos-default-login": (
        http(
            {
                "/nacos/v1/auth/users/login": form_login(
                    {"username": "nacos", "password": "nacos"},
                    j({"accessToken": "eyJhbGciOiJIUzI1NiJ9.e30.x", "tokenTtl": 18000}),
                    NACOS_403,
                )
            }
        ),
        http(
            {
                "/nacos/v1/auth/users/login": form_login(
                    {"username": "nacos", "password": "Zw#8kLq!2pRt"},
                    j({"accessToken": "eyJhbGciOiJIUzI1NiJ9.e30.x", "tokenTtl": 18000}),
                    NACOS_403,
                )
            }
        ),
    ),
    "sb-rabbitmq-default-login": (
        http(
            {
                "/api/whoami": basic_login(
                    "guest", "guest", j({"name": "guest", "tags": ["administrator"]})
                )
            }
        ),
        http(
            {
                "/api/whoami": basic_login(
                    "guest",
                    "Zw#8kLq!2pRt",
                    j({"name": "guest", "tags": ["administrator"]}),
                    j({"error": "not_authorized", "reason": "Login failed"}, 401),
                )
            }
        ),
    ),
    "sb-activemq-default-login": (
        http(
            {
                "/admin/": basic_login(
                    "admin",
                    "admin",
                    h("<html><body><h2>Welcome to the Apache ActiveMQ Console of <b>localhost</b>"),
                )
            }
        ),
        http(
            {
                "/admin/": basic_login(
                    "admin",
                    "Zw#8kLq!2pRt",
                    h("<html><body><h2>Welcome to the Apache ActiveMQ Console of <b>localhost</b>"),
                )
            }
        ),
    ),
    "sb-grafana-default-login": (
        http(
            {
                "/login": json_login(
                    {"user": "admin", "password": "admin"},
                    j({"message": "Logged in", "redirectUrl": "/"}),
                    j({"message": "Invalid username or password"}, 401),
                )
            }
        ),
        http(
            {
                "/login": json_login(
                    {"user": "admin", "password": "Zw#8kLq!2pRt"},
                    j({"message": "Logged in", "redirectUrl": "/"}),
                    j({"message": "Invalid username or password"}, 401),
                )
            }
        ),
    ),
    "sb-zabbix-default-login": (
        http(
            {
                "/zabbix/index.php": form_login(
                    {"name": "Admin", "password": "zabbix"},
                    Response(
                        302,
                        "",
                        {
                            "Location": "zabbix.php?action=dashboard.view",
                            "Set-Cookie": "zbx_session=eyJzZXNzaW9uaWQiOiIxIn0%3D; HttpOnly",
                        },
                    ),
                    h("<html><body>Incorrect user name or password</body></html>"),
                )
            }
        ),
        http(
            {
                "/zabbix/index.php": form_login(
                    {"name": "Admin", "password": "Zw#8kLq!2pRt"},
                    Response(302, "", {"Location": "zabbix.php?action=dashboard.view"}),
                    h(
                        "<html><body>Incorrect user name or password</body></html>",
                        headers={"Set-Cookie": "zbx_session=anon; HttpOnly"},
                    ),
                )
            }
        ),
    ),
    "sb-xxljob-default-login": (
        http(
            {
                "/xxl-job-admin/login": form_login(
                    {"userName": "admin", "password": "123456"},
                    j(
                        {"code": 200, "msg": None, "content": None},
                        headers={"Set-Cookie": "XXL_JOB_LOGIN_IDENTITY=7b226964223a317d; Path=/"},
                    ),
                    j({"code": 500, "msg": "账号或密码错误", "content": None}),
                )
            }
        ),
        http(
            {
                "/xxl-job-admin/login": form_login(
                    {"userName": "admin", "password": "Zw#8kLq!2pRt"},
                    j({"code": 200, "msg": None, "content": None}),
                    j({"code": 500, "msg": "账号或密码错误", "content": None}),
                )
            }
        ),
    ),
    "sb-tomcat-manager-default-login": (
        http(
            {
                "/manager/html": basic_login(
                    "tomcat",
                    "s3cret",
                    TOMCAT_MANAGER,
                    t("", 401, {"WWW-Authenticate": 'Basic realm="Tomcat Manager Application"'}),
                )
            }
        ),
        http(
            {
                "/manager/html": basic_login(
                    "tomcat",
                    "Zw#8kLq!2pRt",
                    TOMCAT_MANAGER,
                    t("", 401, {"WWW-Authenticate": 'Basic realm="Tomcat Manager Application"'}),
                )
            }
        ),
    ),
    # ---------------------------------------------------------------- consoles
    "sb-tomcat-manager-exposed": (
        http(
            {
                "/manager/html": h(
                    "<html><body>401 Unauthorized</body></html>",
                    401,
                    {"WWW-Authenticate": 'Basic realm="Tomcat Manager Application"'},
                )
            }
        ),
        http(
            {
                "/manager/html": h(
                    "<html><head><title>403 Access Denied</title></head><body>By default the "
                    "Manager is only accessible from a browser running on the same machine as "
                    "Tomcat.</body></html>",
                    403,
                )
            }
        ),
    ),
    "sb-weblogic-console-exposed": (
        http(
            {
                "/console/login/LoginForm.jsp": h(
                    "<html><head><title>Oracle WebLogic Server Administration Console 12c</title>"
                    "</head><body><form action='/console/j_security_check'>"
                    "<input name='j_username'><input name='j_password'></form>"
                    "<p>WebLogic Server Version: 12.2.1.3.0</p></body></html>"
                )
            },
            extract="12.2.1.3.0",
        ),
        http({"/console/login/LoginForm.jsp": WEBLOGIC_404}),
    ),
    "sb-weblogic-wls-wsat-exposed": (
        http(
            {
                "/wls-wsat/CoordinatorPortType": h(
                    WSDL_PAGE.format(
                        name="CoordinatorPortType", path="wls-wsat/CoordinatorPortType"
                    )
                )
            }
        ),
        http({"/wls-wsat/CoordinatorPortType": WEBLOGIC_404}),
    ),
    "sb-weblogic-async-exposed": (
        http(
            {
                "/_async/AsyncResponseService": h(
                    WSDL_PAGE.format(
                        name="AsyncResponseService", path="_async/AsyncResponseService"
                    )
                )
            }
        ),
        http({"/_async/AsyncResponseService": WEBLOGIC_404}),
    ),
    "sb-jmx-console-exposed": (
        http(
            {
                "/jmx-console/": h(
                    "<html><head><title>JBoss JMX Management Console</title></head><body>"
                    "<a href='HtmlAdaptor?action=inspectMBean&name=jboss.system:type=Server'>"
                    "</a></body></html>"
                )
            }
        ),
        http(
            {
                "/jmx-console/": h(
                    "<html><body>HTTP Status 401</body></html>",
                    401,
                    {"WWW-Authenticate": 'Basic realm="JBoss JMX Console"'},
                )
            }
        ),
    ),
    "sb-jolokia-exposed": (
        http(
            {
                "/actuator/jolokia/list": j(
                    {
                        "request": {"type": "list"},
                        "value": {"JMImplementation": {"type=MBeanServerDelegate": {}}},
                        "timestamp": 1714550400,
                        "status": 200,
                    }
                )
            }
        ),
        http(
            {
                "/jolokia/list": j(
                    {
                        "request": {"type": "list"},
                        "error_type": "java.lang.Exception",
                        "error": "java.lang.Exception : Origin null is not allowed to call "
                        "this agent",
                        "status": 403,
                    }
                )
            }
        ),
    ),
    "sb-h2-console-exposed": (
        http(
            {
                "/h2-console/": h(
                    "<html><head><title>H2 Console</title></head><frameset>"
                    "<frame src='login.jsp?jsessionid=3f1c2b' name='h2menu'></frameset></html>"
                )
            }
        ),
        http(
            {
                "/h2-console/": h(
                    "<html><head><title>H2 Console</title></head><body>Sorry, remote connections "
                    "('webAllowOthers') are disabled on this server. <a href='login.jsp'>x</a>"
                    "</body></html>"
                )
            }
        ),
    ),
    "sb-baota-panel-exposed": (
        http({"/login": h("<html><head><title>宝塔Linux面板</title></head><body></body></html>")}),
        http(
            {"*": h("<html><head><title>延安宝塔山景区</title></head><body>宝塔山</body></html>")}
        ),
    ),
    "sb-spark-master-exposed": (
        http(
            {
                "/": h(
                    "<html><head><title>Spark Master at spark://10.0.0.8:7077</title></head><body>"
                    "<li><strong>Alive Workers:</strong> 2</li></body></html>"
                )
            },
            extract="spark://10.0.0.8:7077",
        ),
        http(
            {
                "/": h(
                    "<html><head><title>Spark Worker at 10.0.0.9:7078</title></head><body>"
                    "Master URL: spark://10.0.0.8:7077</body></html>"
                )
            }
        ),
    ),
    # ------------------------------------------------------------------ exposure
    "sb-git-config-exposed": (
        http(
            {
                "/.git/config": t(
                    "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n"
                    '[remote "origin"]\n\turl = http://git.gov.local/portal.git\n'
                )
            },
            extract="http://git.gov.local/portal.git",
        ),
        http({"*": SOFT_404}),
    ),
    "sb-svn-entries-exposed": (
        http(
            {
                "/.svn/entries": t(
                    "10\n\ndir\n1234\nsvn://10.0.0.2/portal/trunk\nsvn://10.0.0.2/portal\n"
                )
            },
            extract="svn://10.0.0.2/portal/trunk",
        ),
        http({"*": SOFT_404}),
    ),
    "sb-svn-wcdb-exposed": (
        http(
            {
                "/.svn/wc.db": Response(
                    200,
                    b"SQLite format 3\x00\x10\x00\x01\x01\x00@  \x00\x00\x00\x05" + b"\x00" * 200,
                    {"Content-Type": "application/octet-stream"},
                )
            }
        ),
        http({"*": SOFT_404}),
    ),
    "sb-env-file-exposed": (
        http(
            {
                "/.env": t(
                    "APP_NAME=portal\nAPP_ENV=production\nAPP_KEY=base64:q1w2e3r4t5y6=\n"
                    "DB_HOST=10.0.0.5\nDB_PASSWORD=secret\n"
                )
            }
        ),
        http({"*": h("<html><body><pre>配置示例：DB_HOST=localhost</pre></body></html>")}),
    ),
    "sb-ds-store-exposed": (
        http(
            {
                "/.DS_Store": Response(
                    200,
                    b"\x00\x00\x00\x01Bud1\x00\x00\x10\x00\x00\x00\x08\x00" + b"\x00" * 64,
                    {"Content-Type": "application/octet-stream"},
                )
            }
        ),
        http({"*": t("Not Found")}),
    ),
    "sb-backup-archive-exposed": (
        http(
            {
                "/web.rar": Response(
                    200,
                    b"Rar!\x1a\x07\x01\x00" + b"\x00" * 2048,
                    {"Content-Type": "application/x-rar-compressed"},
                )
            }
        ),
        http({"*": SOFT_404}),
    ),
    "sb-directory-listing": (
        http(
            {
                "/": h(
                    "<html><head><title>Index of /</title></head><body><h1>Index of /</h1><hr>"
                    "<pre><a href='../'>../</a>\n<a href='backup/'>backup/</a></pre></body></html>"
                )
            }
        ),
        http({"*": h("<html><head><title>首页 - Index</title></head><body>欢迎</body></html>")}),
    ),
    "sb-phpinfo-exposed": (
        http(
            {
                "/info.php": h(
                    "<html><head><title>PHP 8.1.2 - phpinfo()</title></head><body>"
                    "<h1 class='p'>PHP Version 8.1.2</h1></body></html>"
                )
            },
            extract="8.1.2",
        ),
        http(
            {
                "*": h(
                    "<html><head><title>phpinfo() 函数详解</title></head><body>"
                    "输出示例：PHP Version 8.1.2</body></html>"
                )
            }
        ),
    ),
    "sb-web-inf-exposed": (
        http(
            {
                "/WEB-INF/web.xml": Response(
                    200,
                    '<?xml version="1.0" encoding="UTF-8"?>\n<web-app version="3.1">'
                    "<servlet><servlet-name>dispatcher</servlet-name></servlet></web-app>",
                    {"Content-Type": "application/xml"},
                )
            }
        ),
        http({"*": SOFT_404}),
    ),
    "sb-web-config-exposed": (
        http(
            {
                "/web.config": Response(
                    200,
                    '<?xml version="1.0"?><configuration><connectionStrings><add name="db" '
                    'connectionString="Server=10.0.0.5;Uid=sa;Pwd=secret"/></connectionStrings>'
                    "</configuration>",
                    {"Content-Type": "application/xml"},
                )
            }
        ),
        http(
            {
                "/web.config": Response(
                    200,
                    '<?xml version="1.0"?><configuration><settings theme="blue"/></configuration>',
                    {"Content-Type": "application/xml"},
                )
            }
        ),
    ),
    "sb-source-map-exposed": (
        http(
            {
                "/": h('<html><head><script src="/js/app.8f3a2c.js"></script></head></html>'),
                "/js/app.8f3a2c.js.map": j(
                    {
                        "version": 3,
                        "sources": ["webpack:///src/main.js"],
                        "mappings": "AAAA,SAAS",
                        "file": "js/app.8f3a2c.js",
                    }
                ),
            }
        ),
        http({"/": h('<html><head><script src="/js/app.8f3a2c.js"></script></head></html>')}),
    ),
    "sb-robots-sensitive-paths": (
        http(
            {"/robots.txt": t("User-agent: *\nDisallow: /admin/\nDisallow: /backup/\n")},
            extract="/admin/",
        ),
        http({"/robots.txt": t("User-agent: *\nDisallow: /search\n")}),
    ),
    "sb-crossdomain-wildcard": (
        http(
            {
                "/crossdomain.xml": Response(
                    200,
                    '<?xml version="1.0"?><cross-domain-policy>'
                    '<allow-access-from domain="*" /></cross-domain-policy>',
                    {"Content-Type": "text/xml"},
                )
            }
        ),
        http(
            {
                "/crossdomain.xml": Response(
                    200,
                    '<?xml version="1.0"?><cross-domain-policy>'
                    '<allow-access-from domain="*.gov.cn" /></cross-domain-policy>',
                    {"Content-Type": "text/xml"},
                )
            }
        ),
    ),
    "sb-swagger-ui-exposed": (
        http(
            {
                "/swagger-ui.html": h(
                    "<html><head><title>Swagger UI</title></head><body><div id='swagger-ui'>"
                    "</div><script src='webjars/springfox-swagger-ui/swagger-ui-bundle.js'>"
                    "</script></body></html>"
                )
            }
        ),
        http({"*": SOFT_404}),
    ),
    "sb-knife4j-doc-exposed": (
        http(
            {
                "/doc.html": h(
                    "<html><head><title>Knife4j 接口文档</title></head><body>"
                    "<script src='webjars/js/knife4j.js'></script></body></html>"
                )
            }
        ),
        http(
            {
                "/doc.html": h(
                    "<html><head><title>帮助文档</title></head><body>使用说明</body></html>"
                )
            }
        ),
    ),
    "sb-swagger-api-docs-exposed": (
        http(
            {
                "/v3/api-docs": j(
                    {
                        "openapi": "3.0.1",
                        "info": {"title": "政务服务接口", "version": "v1"},
                        "paths": {"/api/user/list": {"get": {}}},
                    }
                )
            },
            extract="政务服务接口",
        ),
        http(
            {
                "*": j(
                    {
                        "code": 401,
                        "msg": "请求访问：/v2/api-docs，认证失败，无法访问系统资源",
                    }
                )
            }
        ),
    ),
    "sb-ueditor-controller-exposed": (
        http(
            {
                "/ueditor/jsp/controller.jsp": j(
                    {
                        "imageActionName": "uploadimage",
                        "imageFieldName": "upfile",
                        "imageUrlPrefix": "",
                        "catcherActionName": "catchimage",
                    }
                )
            }
        ),
        http({"/ueditor/jsp/controller.jsp": j({"state": "请求地址出错"})}),
    ),
    # ------------------------------------------------------------------ misconfig
    "sb-spring-actuator-env": (
        http(
            {
                "/actuator/env": j(
                    {
                        "activeProfiles": ["prod"],
                        "propertySources": [
                            {"name": "server.ports", "properties": {"local.server.port": {}}}
                        ],
                    }
                )
            }
        ),
        http({"/actuator/env": SPRING_401}),
    ),
    "sb-spring-boot1-env": (
        http(
            {
                "/env": j(
                    {
                        "profiles": [],
                        "server.ports": {"local.server.port": 8080},
                        "systemProperties": {"java.version": "1.8.0_292"},
                        "systemEnvironment": {"PATH": "/usr/bin"},
                    }
                )
            }
        ),
        http({"/env": WHITELABEL}),
    ),
    "sb-spring-actuator-heapdump": (
        http(
            {
                "/actuator": j(
                    {
                        "_links": {
                            **ACTUATOR_LINKS,
                            "heapdump": {
                                "href": "http://10.0.0.9:8080/actuator/heapdump",
                                "templated": False,
                            },
                        }
                    }
                )
            },
            extract="http://10.0.0.9:8080/actuator/heapdump",
        ),
        http({"/actuator": j({"_links": ACTUATOR_LINKS})}),
    ),
    "sb-spring-actuator-health-details": (
        http(
            {
                "/actuator/health": j(
                    {
                        "status": "UP",
                        "components": {
                            "db": {"status": "UP", "details": {"database": "MySQL"}},
                            "diskSpace": {"status": "UP", "details": {"total": 1, "free": 1}},
                        },
                    }
                )
            }
        ),
        http({"/actuator/health": j({"status": "UP"})}),
    ),
    "sb-spring-gateway-routes": (
        http(
            {
                "/actuator/gateway/routes": j(
                    [
                        {
                            "predicate": "Paths: [/api/**], match trailing slash: true",
                            "route_id": "gov-api",
                            "filters": [],
                            "uri": "lb://gov-api",
                            "order": 0,
                        }
                    ]
                )
            },
            extract="lb://gov-api",
        ),
        http(
            {
                "/actuator/gateway/routes": j(
                    {"path": "/actuator/gateway/routes", "status": 404, "error": "Not Found"},
                    404,
                )
            }
        ),
    ),
    "sb-spring-actuator-httptrace": (
        http(
            {
                "/actuator/httpexchanges": j(
                    {
                        "exchanges": [
                            {
                                "timestamp": "2024-05-01T08:00:00Z",
                                "request": {
                                    "method": "GET",
                                    "uri": "http://10.0.0.9/api/user",
                                    "headers": {"cookie": ["SESSION=abc"]},
                                },
                                "response": {"status": 200},
                            }
                        ]
                    }
                )
            }
        ),
        http({"/actuator/httptrace": SPRING_401, "/actuator/httpexchanges": SPRING_401}),
    ),
    "sb-shiro-rememberme": (
        http(
            {
                "/": by_header(
                    "Cookie",
                    "rememberMe=",
                    h(
                        "<html>登录</html>",
                        headers={
                            "Set-Cookie": "rememberMe=deleteMe; Path=/; Max-Age=0; "
                            "Expires=Tue, 30-Apr-2024 08:00:00 GMT"
                        },
                    ),
                    h("<html>登录</html>"),
                )
            }
        ),
        http({"/": h("<html>登录</html>", headers={"Set-Cookie": "JSESSIONID=ABC123; Path=/"})}),
    ),
    "sb-http-trace-enabled": (
        http({"/": by_method({"TRACE": trace_echo, "GET": h("<html>ok</html>")})}),
        http(
            {
                "/": by_method(
                    {"GET": h("<html>ok</html>")},
                    t("Method Not Allowed", 405, {"Allow": "GET, HEAD"}),
                )
            }
        ),
    ),
    "sb-cors-wildcard-credentials": (
        http({"/": cors_reflect}),
        http(
            {
                "/": h(
                    "<html>ok</html>",
                    headers={
                        "Access-Control-Allow-Origin": "https://www.gov.cn",
                        "Access-Control-Allow-Credentials": "true",
                    },
                )
            }
        ),
    ),
    "sb-apache-server-status": (
        http(
            {
                "/server-status": h(
                    "<html><head><title>Apache Status</title></head><body>"
                    "<h1>Apache Server Status for 10.0.0.1 (via 10.0.0.1)</h1>"
                    "<dl><dt>Server Version: Apache/2.4.57 (Unix)</dt></dl></body></html>"
                )
            },
            extract="Apache/2.4.57 (Unix)",
        ),
        http(
            {
                "/server-status": h(
                    "<html><head><title>403 Forbidden</title></head><body>You don't have "
                    "permission to access /server-status on this server.</body></html>",
                    403,
                )
            }
        ),
    ),
    "sb-nginx-status": (
        http(
            {
                "/nginx_status": t(
                    "Active connections: 2 \nserver accepts handled requests\n 10 10 20 \n"
                    "Reading: 0 Writing: 1 Waiting: 1 \n"
                )
            }
        ),
        http({"/status": j({"status": "ok", "connections": 2})}),
    ),
    "sb-tomcat-examples-exposed": (
        http(
            {
                "/examples/servlets/index.html": h(
                    "<html><head><title>Servlet Examples</title></head><body>"
                    "<a href='servlet/HelloWorldExample'>Hello World</a>"
                    "<a href='servlet/SessionExample'>Sessions</a></body></html>"
                )
            }
        ),
        http(
            {
                "*": h(
                    "<html><head><title>HTTP Status 404 – Not Found</title></head><body>"
                    "<h3>Apache Tomcat/9.0.50</h3></body></html>",
                    404,
                )
            }
        ),
    ),
    # ---------------------------------------------------------------- fingerprint
    "sb-seeyon-oa-detect": (
        http(
            {
                "/seeyon/index.jsp": h(
                    "<html><head><title>A8-V5协同管理软件 V7.0SP1</title>"
                    "<script src='/seeyon/common/js/jquery.js'></script></head></html>"
                )
            },
            extract="A8-V5协同管理软件 V7.0SP1",
        ),
        http({"*": LOGIN_PAGE}),
    ),
    "sb-weaver-ecology-detect": (
        http(
            {
                "/wui/index.html": h(
                    "<html><head><script src='/wui/common/jquery/jquery.min.js'></script></head>"
                    "</html>",
                    headers={"Set-Cookie": "ecology_JSessionid=aaa1b2c3; path=/"},
                )
            }
        ),
        http({"*": h("<html><head><script src='/wui/app.js'></script></head></html>")}),
    ),
    "sb-tongda-oa-detect": (
        http(
            {
                "/": h(
                    "<html><head><title>Office Anywhere 2019 网络智能办公系统</title></head></html>"
                )
            },
            extract="2019 网络智能办公系统",
        ),
        http({"/": h("<html><head><title>OA办公系统</title></head></html>")}),
    ),
    "sb-yonyou-nc-detect": (
        http(
            {
                "/index.jsp": h(
                    "<html><head><title>YONYOU NC</title></head><body>"
                    "<a href='/Client/Uclient/UClient.exe'>下载客户端</a></body></html>"
                )
            }
        ),
        http({"*": h("<html><head><title>用友软件新闻 U8</title></head></html>")}),
    ),
    "sb-landray-oa-detect": (
        http(
            {
                "/login.jsp": h(
                    "<html><head><link rel='stylesheet' "
                    "href='/sys/ui/extend/theme/default/style/icon.css'></head></html>"
                )
            }
        ),
        http({"*": LOGIN_PAGE}),
    ),
}

# Further positive shapes of the same check (another product flavour or file format).
EXTRA_POSITIVES: dict[str, list[Case]] = {
    "sb-backup-archive-exposed": [
        http({"/www.zip": Response(200, b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 64)}),
        http(
            {
                "/backup.tar.gz": Response(
                    200,
                    b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\x00" * 64,
                    {"Content-Type": "application/x-gzip"},
                )
            }
        ),
    ],
    "sb-directory-listing": [
        http(
            {
                "/upload/": h(
                    "<html><head><title>10.0.0.5 - /upload/</title></head><body><pre>"
                    '<A HREF="/">[To Parent Directory]</A></pre></body></html>'
                )
            }
        ),
        http(
            {
                "/files/": h(
                    "<html><head><title>Directory Listing For [/files/]</title></head></html>"
                )
            }
        ),
    ],
    "sb-nacos-users-unauth": [http({"/v1/auth/users": NACOS_USERS})],
    "sb-jolokia-exposed": [
        http(
            {
                "/jolokia/list": j(
                    {"request": {"type": "list"}, "value": {}, "timestamp": 1, "status": 200}
                )
            }
        )
    ],
    "sb-weaver-ecology-detect": [
        http(
            {
                "/login/Login.jsp": h(
                    "<html><head><title>泛微协同商务系统</title><script src='/wui/x.js'>"
                )
            }
        )
    ],
}


# ------------------------------------------------------------------------------ runner


def run_case(template: Template, case: Case) -> tuple[list[TemplateResult], list[Request]]:
    """Run ``template`` against a fresh mock built from ``case``."""
    if case.tcp is not None:
        with MockTcpTarget(case.tcp) as tcp_mock:
            target = tcp_mock.address
            return run_template(template, target, build_context([target], 3.0)), []
    with MockHttpTarget(case.routes) as http_mock:
        results = run_template(template, http_mock.url, build_context([http_mock.url], 3.0))
        return results, list(http_mock.seen)


def _check_requests(template: Template, seen: list[Request]) -> None:
    limit = int(template.info.metadata.get("max-request", 1))
    assert len(seen) <= limit, f"{len(seen)} requests, max-request says {limit}"
    if template.info.metadata.get("safety") == "passive":
        for request in seen:
            assert request.method in PASSIVE_METHODS and not request.body, request


TEMPLATE_IDS = sorted(TEMPLATES)


def test_there_are_at_least_sixty_checks_with_unique_ids() -> None:
    assert len(FILES) >= 60
    assert len(TEMPLATES) == len(FILES), "duplicate template ids"


def test_every_check_has_its_test_cases() -> None:
    assert set(CASES) == set(TEMPLATES)
    assert set(EXTRA_POSITIVES) <= set(TEMPLATES)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(BUILTIN)))
def test_check_metadata(path: Path) -> None:
    template = load_template(path, root=BUILTIN)
    assert template.runnable, template.features
    assert template.id.startswith("sb-")
    assert path.stem == template.id.removeprefix("sb-")
    assert path.parent.parent == BUILTIN
    info = template.info
    assert info.authors == ("shaobing",)
    assert _chinese(info.name) and _chinese(info.description or "")
    meta = info.metadata
    for key in ("zh-name", "zh-description", "zh-remediation"):
        assert isinstance(meta.get(key), str) and _chinese(meta[key]), key
    assert meta["zh-name"] == info.name
    assert len(meta["zh-remediation"]) >= 30
    assert meta.get("safety") in ("passive", "active")
    assert info.tags
    classification = info.classification
    assert classification.cwe_ids and all(c.startswith("CWE-") for c in classification.cwe_ids)
    assert classification.cvss_metrics and classification.cvss_metrics.startswith("CVSS:3.1/")
    cvss = CVSS3(classification.cvss_metrics)
    assert cvss.scores()[0] == classification.cvss_score
    assert SEVERITY_OF_RATING[cvss.severities()[0]] == info.severity
    if meta["safety"] == "passive":
        for block in template.http:
            assert block.method in PASSIVE_METHODS and not block.body
            assert all(line.split(" ", 1)[0] in PASSIVE_METHODS for line in block.raw)


def _chinese(text: str) -> bool:
    return any("\u4e00" <= char <= "\u9fff" for char in text)


@pytest.mark.parametrize("template_id", TEMPLATE_IDS)
def test_check_matches_the_vulnerable_service(template_id: str) -> None:
    template = TEMPLATES[template_id]
    positive = CASES[template_id][0]
    for case in [positive, *EXTRA_POSITIVES.get(template_id, [])]:
        results, seen = run_case(template, case)
        assert results, f"{template_id} did not match its positive case"
        assert all(result.template.id == template_id for result in results)
        if case.extract is not None:
            found = [value for result in results for value in result.extracted]
            assert case.extract in found, found
        _check_requests(template, seen)


@pytest.mark.parametrize("template_id", TEMPLATE_IDS)
def test_check_ignores_the_near_miss(template_id: str) -> None:
    template = TEMPLATES[template_id]
    results, seen = run_case(template, CASES[template_id][1])
    assert results == [], f"{template_id} matched its negative case"
    _check_requests(template, seen)
