"""File handling: path traversal and local file inclusion, a directory listing, sensitive
files left in the web root, a WebDAV share that accepts PUT/DELETE, and static assets.

Files are read from a *virtual root* under the data directory (``DATA/root``): the careless
handlers do the path arithmetic a real server does, so ``../../etc/passwd`` climbs to the
virtual root's planted ``/etc/passwd``, never to the machine's own files.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.targets.vulnapp.site import Handler, Site, both, esc, link_list, page, prefix

FILES_DIR = "/var/www/files"
PAGES_DIR = "/var/www/pages"
UPLOADS_DIR = "/var/www/uploads"

PASSWD = """root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bin:x:2:2:bin:/bin:/usr/sbin/nologin
sys:x:3:3:sys:/dev:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
zwfw:x:1000:1000:zwfw,,,:/home/zwfw:/bin/bash
"""

WIN_INI = """; for 16-bit app support
[fonts]
[extensions]
[mci extensions]
[files]
[Mail]
MAPI=1
"""

VIRTUAL_FILES: dict[str, bytes | str] = {
    "/etc/passwd": PASSWD,
    "/etc/hosts": "127.0.0.1\tlocalhost\n127.0.1.1\tzwfw-web01\n",
    "/etc/issue": "Ubuntu 16.04.7 LTS \\n \\l\n",
    "/windows/win.ini": WIN_INI,
    "/windows/system32/drivers/etc/hosts": "127.0.0.1       localhost\n",
    f"{FILES_DIR}/guide.txt": "云州市政务服务事项办事指南（2024版）\n一、营业执照办理……\n",
    f"{FILES_DIR}/apply-form.txt": "政务服务事项申请表\n申请人：________\n",
    f"{FILES_DIR}/fees.txt": "行政事业性收费项目清单\n",
    f"{PAGES_DIR}/about.html": "<p>云州市政务服务网是云州市人民政府统一的政务服务平台。</p>",
    f"{PAGES_DIR}/contact.html": "<p>咨询电话：12345 · 地址：云州市人民路1号市民中心</p>",
    f"{PAGES_DIR}/guide.html": "<p>网上办事指南：注册账号、实名认证、在线申报、进度查询。</p>",
    f"{UPLOADS_DIR}/2024年工作总结.docx": b"PK\x03\x04 fake docx",
    f"{UPLOADS_DIR}/banner.png": b"\x89PNG\r\n\x1a\n fake png",
    f"{UPLOADS_DIR}/readme.txt": "上传目录，请勿存放敏感文件。\n",
}

GIT_CONFIG = """[core]
\trepositoryformatversion = 0
\tfilemode = true
\tbare = false
\tlogallrefupdates = true
[remote "origin"]
\turl = http://git.yunzhou.example/zwfw/portal.git
\tfetch = +refs/heads/*:refs/remotes/origin/*
[branch "master"]
\tremote = origin
\tmerge = refs/heads/master
"""

ENV_FILE = """APP_NAME=zwfw-portal
APP_ENV=production
APP_DEBUG=true
APP_KEY=base64:ZmFrZS1rZXktZm9yLXRoZS12dWxuYXBwLXRlc3Q=
DB_CONNECTION=mysql
DB_HOST=127.0.0.1
DB_PORT=3306
DB_DATABASE=zwfw
DB_USERNAME=zwfw
DB_PASSWORD=Zwfw@2023
REDIS_PASSWORD=null
"""

WEB_XML = """<?xml version="1.0" encoding="UTF-8"?>
<web-app xmlns="http://xmlns.jcp.org/xml/ns/javaee" version="3.1">
  <display-name>zwfw-portal</display-name>
  <context-param>
    <param-name>jdbc.url</param-name>
    <param-value>jdbc:dm://127.0.0.1:5236/ZWFW</param-value>
  </context-param>
  <servlet>
    <servlet-name>dispatcher</servlet-name>
    <servlet-class>org.springframework.web.servlet.DispatcherServlet</servlet-class>
  </servlet>
  <servlet-mapping>
    <servlet-name>dispatcher</servlet-name>
    <url-pattern>*.do</url-pattern>
  </servlet-mapping>
</web-app>
"""


def ds_store() -> bytes:
    """A small ``.DS_Store`` (Finder's buddy-allocator file) naming a few entries."""
    names = ["admin", "backup", "config.php", "upload"]
    records = b""
    for name in names:
        encoded = name.encode("utf-16-be")
        records += len(name).to_bytes(4, "big") + encoded + b"Iloc" + b"blob" + b"\x00" * 20
    header = b"\x00\x00\x00\x01Bud1" + (2048).to_bytes(4, "big") * 2 + b"\x00" * 16
    return header + records + b"\x00" * 64


def www_zip() -> bytes:
    """A site backup archive with the source and a configuration file."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("www/index.php", "<?php require 'config/database.php'; ?>\n")
        archive.writestr(
            "www/config/database.php",
            "<?php return ['host' => '127.0.0.1', 'user' => 'zwfw', 'pass' => 'Zwfw@2023'];\n",
        )
        archive.writestr("www/README.txt", "云州市政务服务网 网站源码备份 2024-01-05\n")
    return buffer.getvalue()


SENSITIVE: dict[str, tuple[str, bytes]] = {
    "/.git/config": ("text/plain", GIT_CONFIG.encode()),
    "/.git/HEAD": ("text/plain", b"ref: refs/heads/master\n"),
    "/.env": ("text/plain", ENV_FILE.encode()),
    "/www.zip": ("application/zip", www_zip()),
    "/.DS_Store": ("application/octet-stream", ds_store()),
    "/WEB-INF/web.xml": ("application/xml", WEB_XML.encode()),
}


def plant(vroot: Path) -> None:
    """Write the virtual root's files."""
    for vpath, content in VIRTUAL_FILES.items():
        target = vroot / vpath.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode("utf-8") if isinstance(content, str) else content
        target.write_bytes(data)


def careless_path(vroot: Path, base: str, name: str) -> Path:
    """Join ``name`` to ``base`` the way a careless server does (``..`` and absolute paths
    honoured), inside the virtual root. FileNotFoundError when there is no such file."""
    joined = posixpath.normpath(posixpath.join(base, name.replace("\\", "/")))
    real = (vroot / joined.lstrip("/")).resolve()
    if not real.is_relative_to(vroot.resolve()) or not real.is_file():
        raise FileNotFoundError(name)
    return real


def allowed_path(vroot: Path, base: str, name: str) -> Path:
    """``name`` only when it is a plain file name present in ``base``."""
    directory = vroot / base.lstrip("/")
    if name not in {p.name for p in directory.iterdir() if p.is_file()}:
        raise FileNotFoundError(name)
    return directory / name


def read_file(vroot: Path, base: str, name: str, *, safe: bool) -> bytes:
    """The content of ``name`` under ``base`` (FileNotFoundError when it is refused)."""
    try:
        path = allowed_path(vroot, base, name) if safe else careless_path(vroot, base, name)
        return path.read_bytes()
    except (OSError, ValueError) as exc:
        raise FileNotFoundError(name) from exc


def listing(directory: Path, url: str) -> str:
    """An Apache-style ``Index of`` page."""
    rows = ['<tr><td><a href="../">Parent Directory</a></td><td></td><td>-</td></tr>']
    for entry in sorted(directory.iterdir()):
        size = entry.stat().st_size
        rows.append(
            f'<tr><td><a href="{esc(entry.name)}">{esc(entry.name)}</a></td>'
            f"<td>2024-03-01 10:00</td><td>{size}</td></tr>"
        )
    return (
        f'<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">\n<html><head>'
        f"<title>Index of {esc(url)}</title></head><body><h1>Index of {esc(url)}</h1>"
        "<table><tr><th>Name</th><th>Last modified</th><th>Size</th></tr>"
        + "".join(rows)
        + "</table><address>Apache/2.4.29 (Ubuntu) Server at 127.0.0.1</address></body></html>"
    )


FORBIDDEN = (
    "<!DOCTYPE html><html><head><title>403 Forbidden</title></head><body>"
    "<h1>403 Forbidden</h1><p>您无权访问该目录。</p></body></html>"
)

NOT_FOUND_BODY = "<p>您访问的页面不存在或已被删除。</p><p><a href='/'>返回首页</a></p>"


def routes(site: Site) -> list[Route]:
    """The file pages, old and new."""
    vroot = site.vroot
    webdav_dir = site.config.data_dir / "webdav"
    webdav_dir.mkdir(parents=True, exist_ok=True)

    def download_index(safe: bool) -> Handler:
        async def handle(request: Request) -> Response:
            names = sorted(p.name for p in (vroot / FILES_DIR.lstrip("/")).iterdir())
            items = [(f"{prefix(safe)}/download/get?file={name}", name) for name in names]
            return page(site, "下载中心", link_list(items), v2=safe)

        return handle

    def download(safe: bool) -> Handler:
        async def handle(request: Request) -> Response:
            name = request.query_params.get("file", "")
            try:
                data = await run_in_threadpool(read_file, vroot, FILES_DIR, name, safe=safe)
            except FileNotFoundError:
                return page(site, "文件下载", "<p>文件不存在。</p>", v2=safe, status=404)
            disposition = f"attachment; filename*=UTF-8''{posixpath.basename(name)}"
            return Response(
                data,
                media_type="application/octet-stream",
                headers={"Content-Disposition": disposition.encode().decode("latin-1")},
            )

        return handle

    def include(safe: bool) -> Handler:
        async def handle(request: Request) -> Response:
            name = request.query_params.get("name", "about.html")
            try:
                data = await run_in_threadpool(read_file, vroot, PAGES_DIR, name, safe=safe)
            except FileNotFoundError:
                return page(site, "页面不存在", NOT_FOUND_BODY, v2=safe, status=404)
            return page(site, "信息页面", data.decode("utf-8", "replace"), v2=safe)

        return handle

    async def uploads(request: Request) -> Response:
        directory = vroot / UPLOADS_DIR.lstrip("/")
        return HTMLResponse(await run_in_threadpool(listing, directory, "/uploads/"))

    async def forbidden(request: Request) -> Response:
        return HTMLResponse(FORBIDDEN, status_code=403)

    def upload_file(safe: bool) -> Handler:
        async def handle(request: Request) -> Response:
            name = request.path_params["name"]
            try:
                data = await run_in_threadpool(read_file, vroot, UPLOADS_DIR, name, safe=True)
            except FileNotFoundError:
                return page(site, "页面不存在", NOT_FOUND_BODY, v2=safe, status=404)
            return Response(data, media_type="application/octet-stream")

        return handle

    def sensitive(path: str) -> Handler:
        media_type, data = SENSITIVE[path]

        async def handle(request: Request) -> Response:
            return Response(data, media_type=media_type)

        return handle

    def webdav_index(safe: bool) -> Handler:
        async def handle(request: Request) -> Response:
            names = sorted(p.name for p in webdav_dir.iterdir())
            items = [(f"{prefix(safe)}/webdav/{n}", n) for n in names]
            body = "<p>部门共享文件夹（WebDAV）。</p>" + link_list(items)
            return page(site, "共享文件夹", body, v2=safe)

        return handle

    async def webdav_file(request: Request) -> Response:
        name = posixpath.basename(request.path_params["name"]) or "unnamed"
        target = webdav_dir / name
        if request.method == "PUT":
            body = await request.body()
            await run_in_threadpool(target.write_bytes, body[: 1 << 20])
            return PlainTextResponse("Created", status_code=201)
        if request.method == "DELETE":
            site.state.record("webdav-delete", request)
            existed = target.exists()
            target.unlink(missing_ok=True)
            return Response(status_code=204 if existed else 404)
        if not target.is_file():
            return page(site, "页面不存在", NOT_FOUND_BODY, status=404)
        return Response(target.read_bytes(), media_type="application/octet-stream")

    async def webdav_file_v2(request: Request) -> Response:
        name = posixpath.basename(request.path_params["name"])
        target = webdav_dir / name
        if not name or not target.is_file():
            return page(site, "页面不存在", NOT_FOUND_BODY, v2=True)
        return Response(target.read_bytes(), media_type="application/octet-stream")

    result: list[Route] = []
    result += both("/download/", ["GET"], download_index)
    result += both("/download/get", ["GET"], download)
    result += both("/zwgk/page", ["GET"], include)
    result.append(Route("/uploads/", uploads, methods=["GET"]))
    result.append(Route("/v2/uploads/", forbidden, methods=["GET"]))
    result.append(Route("/backup/", forbidden, methods=["GET"]))
    result.append(Route("/uploads/{name}", upload_file(False), methods=["GET"]))
    for path in SENSITIVE:
        result.append(Route(path, sensitive(path), methods=["GET"]))
    result += both("/webdav/", ["GET"], webdav_index)
    result.append(Route("/webdav/{name}", webdav_file, methods=["GET", "PUT", "DELETE"]))
    result.append(Route("/v2/webdav/{name}", webdav_file_v2, methods=["GET"]))
    return result
