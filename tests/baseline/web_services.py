"""Throw-away nginx, Apache httpd and Tomcat on 127.0.0.1 with a weak and a hardened configuration.

Each server runs in the foreground from its own temporary directory (configuration, logs, pid,
content), never touching the system services. The *weak* configurations reproduce what real
hosts look like: Debian's stock directives (``ssl_protocols TLSv1 TLSv1.1 ...``,
``ServerTokens OS``, ``Timeout 300``, ``Options Indexes``, the tomcat10 package's server.xml and
``Catalina/localhost/manager.xml``) plus the usual operator shortcuts (``autoindex on``,
``tomcat/tomcat``, an AJP connector with ``secretRequired="false"``). The *hardened* ones apply
the remediation of the nginx, apache and tomcat baseline profiles.

Module files come from the installed packages (``/etc/apache2/mods-available``,
``/usr/share/tomcat10``); what the baseline rules judge is written here.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.services.nginx import _certificate
from tests.services.postgres import ServiceUnavailable, free_port
from tests.services.process import stop_process, tcp_banner, wait_ready

NGINX = Path("/usr/sbin/nginx")
APACHE = Path("/usr/sbin/apache2")
APACHE_MODULES = Path("/etc/apache2/mods-available")
TOMCAT_HOME = Path("/usr/share/tomcat10")
TOMCAT_CONF = Path("/etc/tomcat10")
TOMCAT_ADMIN = Path("/usr/share/tomcat10-admin")
# Forward-secret AEAD suites only (what the TLS rules ask for).
STRONG_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384"
)
# Tomcat (a JVM deploying the manager application) needs a few seconds; nginx and httpd < 1 s.
TOMCAT_START_TIMEOUT = 40.0


@dataclass
class WebServer:
    """A running server: where its configuration lives and the base URL of its content."""

    name: str
    root: Path
    url: str
    process: subprocess.Popen[bytes]
    #: the main configuration file (nginx, httpd) or CATALINA_BASE (Tomcat)
    conf: Path
    ports: dict[str, int] = field(default_factory=dict)

    def stop(self) -> None:
        """Stop the server and remove its directory."""
        stop_process(self.process)
        shutil.rmtree(self.root, ignore_errors=True)


def _require_root() -> None:
    # the servers switch their workers to www-data and read /etc/tomcat10 (root:tomcat 0640)
    if os.geteuid() != 0:
        raise ServiceUnavailable("the web server tests need root (worker users, package files)")


def _tempdir(prefix: str) -> Path:
    root = Path(tempfile.mkdtemp(prefix=prefix))
    # Worker processes switch to www-data/nobody: the tree must be readable for them.
    root.chmod(0o755)
    return root


def _http_ready(port: int) -> Callable[[], bool]:
    request = b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
    return lambda: tcp_banner(port, send=request).startswith(b"HTTP/1.")


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)


# ---- nginx ---------------------------------------------------------------------------------

_NGINX_WEAK = """user www-data;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log;
daemon off;

events {{
\tworker_connections 64;
}}

http {{
\tsendfile on;
\ttcp_nopush on;
\ttypes_hash_max_size 2048;
\t# server_tokens off;
\tdefault_type application/octet-stream;
\tkeepalive_timeout 65;

\tssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3; # Dropping SSLv3, ref: POODLE
\tssl_prefer_server_ciphers on;

\taccess_log {root}/access.log;
\tgzip on;
\tclient_body_temp_path {root}/tmp;

\tinclude sites-enabled/*.conf;
}}
"""

_NGINX_WEAK_SITE = """server {{
\tlisten 127.0.0.1:{port} default_server;
\troot {www};
\tindex index.html;
\tserver_name _;
\tlocation / {{
\t\ttry_files $uri $uri/ =404;
\t}}
\tlocation /files/ {{
\t\tautoindex on;
\t}}
}}

server {{
\tlisten 127.0.0.1:{tls_port} ssl;
\tserver_name localhost;
\tssl_certificate {cert};
\tssl_certificate_key {key};
\tssl_ciphers HIGH:!aNULL:!MD5:DES-CBC3-SHA;
\troot {www};
}}
"""

_NGINX_HARDENED = """user www-data;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
daemon off;

events {{
    worker_connections 64;
}}

http {{
    server_tokens off;
    default_type application/octet-stream;
    client_body_temp_path {root}/tmp;

    client_header_timeout 10s;
    client_body_timeout 10s;
    keepalive_timeout 10s;
    client_max_body_size 10m;

    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers {ciphers};
    ssl_prefer_server_ciphers on;

    add_header X-Frame-Options "SAMEORIGIN" always;
    add_header X-Content-Type-Options "nosniff" always;
    add_header Content-Security-Policy "default-src 'self'; frame-ancestors 'self'" always;
    add_header Strict-Transport-Security "max-age=31536000" always;

    access_log {root}/access.log;

    include conf.d/*.conf;
}}
"""

_NGINX_HARDENED_SITE = """# requests for unknown host names are dropped
server {{
    listen 127.0.0.1:{port} default_server;
    server_name _;
    return 444;
}}

server {{
    listen 127.0.0.1:{tls_port} ssl;
    server_name localhost 127.0.0.1;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    root {www};
    location / {{
        limit_except GET HEAD POST {{
            deny all;
        }}
    }}
}}
"""


def start_nginx(*, hardened: bool) -> WebServer:
    """nginx with HTTP on ``ports['http']`` and HTTPS on ``ports['https']`` (the URL)."""
    if not NGINX.exists():
        raise ServiceUnavailable("nginx not installed (apt-get install nginx-light)")
    _require_root()
    root = _tempdir("shaobing-web-nginx-")
    try:
        www = root / "www"
        _write(www / "index.html", "<h1>portal</h1>\n")
        _write(www / "files" / "report-2024.xlsx", "placeholder\n")
        (root / "tmp").mkdir()
        cert, key = _certificate(root)
        port, tls_port = free_port(), free_port()
        values = {
            "root": root,
            "www": www,
            "port": port,
            "tls_port": tls_port,
            "cert": cert,
            "key": key,
            "ciphers": STRONG_CIPHERS,
        }
        conf = root / "nginx.conf"
        if hardened:
            _write(conf, _NGINX_HARDENED.format(**values))
            _write(root / "conf.d" / "default.conf", _NGINX_HARDENED_SITE.format(**values))
        else:
            # world-writable main config, as left behind by a careless "chmod -R 666"
            _write(conf, _NGINX_WEAK.format(**values), 0o666)
            _write(root / "sites-enabled" / "default.conf", _NGINX_WEAK_SITE.format(**values))
        log = root / "error.log"
        process = subprocess.Popen(
            [str(NGINX), "-p", str(root), "-c", str(conf), "-e", str(log)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # the hardened plain-HTTP server answers nothing (444): wait for both sockets
        wait_ready(
            process, lambda: _listening(port) and _listening(tls_port), name="nginx", log=log
        )
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return WebServer(
        "nginx",
        root,
        f"https://127.0.0.1:{tls_port}",
        process,
        conf,
        {"http": port, "https": tls_port},
    )


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3):
            return True
    except OSError:
        return False


# ---- Apache httpd --------------------------------------------------------------------------

# Debian 12's apache2.conf (comments trimmed), DocumentRoot's <Directory> moved to the temp tree.
_APACHE_MAIN = """# This is the main Apache server configuration file.
#ServerRoot "/etc/apache2"
DefaultRuntimeDir ${{APACHE_RUN_DIR}}
PidFile ${{APACHE_PID_FILE}}
Timeout {timeout}
KeepAlive On
MaxKeepAliveRequests 100
KeepAliveTimeout 5
User ${{APACHE_RUN_USER}}
Group ${{APACHE_RUN_GROUP}}
HostnameLookups Off
ErrorLog ${{APACHE_LOG_DIR}}/error.log
LogLevel warn
IncludeOptional mods-enabled/*.load
IncludeOptional mods-enabled/*.conf
Include ports.conf

<Directory />
\tOptions FollowSymLinks
\tAllowOverride None
\tRequire all denied
</Directory>

<Directory {www}/>
\tOptions {options}
\tAllowOverride None
\tRequire all granted
</Directory>
{extra}
AccessFileName .htaccess
<FilesMatch "^\\.ht">
\tRequire all denied
</FilesMatch>
LogFormat "%h %l %u %t \\"%r\\" %>s %O \\"%{{Referer}}i\\" \\"%{{User-Agent}}i\\"" combined
IncludeOptional conf-enabled/*.conf
IncludeOptional sites-enabled/*.conf
"""

_APACHE_SECURITY_WEAK = """# Debian's conf-available/security.conf
#ServerTokens Minimal
ServerTokens OS
#ServerTokens Full
#ServerSignature Off
ServerSignature On
TraceEnable Off
#TraceEnable On
# Requires mod_headers to be enabled.
#Header set X-Content-Type-Options: "nosniff"
# Requires mod_headers to be enabled.
#Header set Content-Security-Policy "frame-ancestors 'self';"
"""

_APACHE_SECURITY_HARDENED = """ServerTokens Prod
ServerSignature Off
TraceEnable Off
Header always set X-Frame-Options "SAMEORIGIN"
# Debian's commented example, enabled as written
Header set X-Content-Type-Options: "nosniff"
"""

_APACHE_SITE = """<VirtualHost 127.0.0.1:{port}>
\tServerAdmin webmaster@localhost
\tDocumentRoot {www}
\tErrorLog ${{APACHE_LOG_DIR}}/error.log
\tCustomLog ${{APACHE_LOG_DIR}}/access.log combined
{extra}</VirtualHost>
"""

# Debian's mods-available/ssl.conf with the protocol line hardened (no SSL virtual host runs:
# the module is loaded so that the TLS rules apply to real configuration files).
_APACHE_SSL_HARDENED = f"""<IfModule mod_ssl.c>
\tSSLRandomSeed startup builtin
\tSSLRandomSeed connect builtin
\tSSLPassPhraseDialog  exec:/usr/share/apache2/ask-for-passphrase
\tSSLSessionCache\t\tshmcb:${{APACHE_RUN_DIR}}/ssl_scache(512000)
\tSSLSessionCacheTimeout  300
\tSSLCipherSuite {STRONG_CIPHERS}
\tSSLHonorCipherOrder on
\tSSLProtocol -all +TLSv1.2 +TLSv1.3
\tSSLSessionTickets off
</IfModule>
"""

_APACHE_WEAK_MODULES = [
    "mpm_event.load",
    "mpm_event.conf",
    "authz_core.load",
    "authz_host.load",
    "authn_core.load",
    "access_compat.load",
    "alias.load",
    "dir.load",
    "dir.conf",
    "mime.load",
    "mime.conf",
    "setenvif.load",
    "setenvif.conf",
    "autoindex.load",
    "autoindex.conf",
    "status.load",
    "status.conf",
    "socache_shmcb.load",
    "ssl.load",
    "ssl.conf",
]
_APACHE_HARDENED_MODULES = [
    "mpm_event.load",
    "mpm_event.conf",
    "authz_core.load",
    "authz_host.load",
    "authn_core.load",
    "dir.load",
    "dir.conf",
    "mime.load",
    "mime.conf",
    "headers.load",
    "socache_shmcb.load",
    "ssl.load",
]


def start_apache(*, hardened: bool) -> WebServer:
    """httpd from a Debian-style ServerRoot (mods-enabled links to the packaged modules)."""
    if not APACHE.exists() or not APACHE_MODULES.is_dir():
        raise ServiceUnavailable("apache2 not installed (apt-get install apache2)")
    _require_root()
    root = _tempdir("shaobing-web-apache-")
    try:
        www = root / "www"
        _write(www / "index.html", "<h1>portal</h1>\n")
        for sub in ("run", "lock", "log"):
            (root / sub).mkdir()
        port = free_port()
        enabled = root / "mods-enabled"
        enabled.mkdir()
        for name in _APACHE_HARDENED_MODULES if hardened else _APACHE_WEAK_MODULES:
            (enabled / name).symlink_to(APACHE_MODULES / name)
        if hardened:
            _write(enabled / "ssl.conf", _APACHE_SSL_HARDENED)
            main = _APACHE_MAIN.format(
                timeout=60,
                www=www,
                options="FollowSymLinks",
                extra="LimitRequestBody 10485760\nFileETag None\n",
            )
            security, site_extra = _APACHE_SECURITY_HARDENED, ""
        else:
            main = _APACHE_MAIN.format(
                timeout=300, www=www, options="Indexes FollowSymLinks", extra=""
            )
            # switched on "for debugging" in the virtual host, overriding security.conf
            security, site_extra = _APACHE_SECURITY_WEAK, "\tTraceEnable On\n"
        conf = root / "apache2.conf"
        _write(conf, main)
        _write(root / "ports.conf", f"Listen 127.0.0.1:{port}\n")
        _write(root / "conf-enabled" / "security.conf", security)
        _write(
            root / "sites-enabled" / "000-default.conf",
            _APACHE_SITE.format(port=port, www=www, extra=site_extra),
        )
        env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "LANG": "C",
            "APACHE_RUN_USER": "www-data",
            "APACHE_RUN_GROUP": "www-data",
            "APACHE_PID_FILE": str(root / "run" / "apache2.pid"),
            "APACHE_RUN_DIR": str(root / "run"),
            "APACHE_LOCK_DIR": str(root / "lock"),
            "APACHE_LOG_DIR": str(root / "log"),
        }
        log = root / "log" / "error.log"
        process = subprocess.Popen(
            [str(APACHE), "-d", str(root), "-f", str(conf), "-DFOREGROUND"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        wait_ready(process, _http_ready(port), name="apache2", log=log)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return WebServer("apache", root, f"http://127.0.0.1:{port}", process, conf, {"http": port})


# ---- Tomcat --------------------------------------------------------------------------------

_TOMCAT_HARDENED_SERVER = """<?xml version="1.0" encoding="UTF-8"?>
<Server port="-1" shutdown="SHUTDOWN">
  <Listener className="org.apache.catalina.startup.VersionLoggerListener" />
  <Listener className="org.apache.catalina.core.JreMemoryLeakPreventionListener" />
  <Listener className="org.apache.catalina.mbeans.GlobalResourcesLifecycleListener" />
  <GlobalNamingResources>
    <Resource name="UserDatabase" auth="Container"
              type="org.apache.catalina.UserDatabase"
              factory="org.apache.catalina.users.MemoryUserDatabaseFactory"
              pathname="conf/tomcat-users.xml" />
  </GlobalNamingResources>
  <Service name="Catalina">
    <Connector port="{port}" address="127.0.0.1" protocol="HTTP/1.1"
               connectionTimeout="20000" maxParameterCount="1000" />
    <Connector protocol="AJP/1.3" address="127.0.0.1" port="{ajp_port}"
               secretRequired="true" secret="{ajp_secret}" />
    <Engine name="Catalina" defaultHost="localhost">
      <Realm className="org.apache.catalina.realm.LockOutRealm">
        <Realm className="org.apache.catalina.realm.UserDatabaseRealm" resourceName="UserDatabase"/>
      </Realm>
      <Host name="localhost" appBase="webapps" unpackWARs="true" autoDeploy="false">
        <Valve className="org.apache.catalina.valves.AccessLogValve" directory="logs"
               prefix="localhost_access_log" suffix=".txt"
               pattern="%h %l %u %t &quot;%r&quot; %s %b" />
        <Valve className="org.apache.catalina.valves.ErrorReportValve"
               showReport="false" showServerInfo="false" />
      </Host>
    </Engine>
  </Service>
</Server>
"""

_TOMCAT_WEAK_USERS = """<?xml version="1.0" encoding="UTF-8"?>
<tomcat-users xmlns="http://tomcat.apache.org/xml" version="1.0">
  <role rolename="manager-gui"/>
  <role rolename="manager-script"/>
  <user username="tomcat" password="tomcat" roles="manager-gui,manager-script"/>
</tomcat-users>
"""

_TOMCAT_HARDENED_USERS = """<?xml version="1.0" encoding="UTF-8"?>
<tomcat-users xmlns="http://tomcat.apache.org/xml" version="1.0">
  <role rolename="manager-gui"/>
  <user username="ops-zhangwei" password="{password}" roles="manager-gui"/>
</tomcat-users>
"""

# The manager application's own META-INF/context.xml in our copy only admits a network we are
# not in: if Tomcat applied it, requests from 127.0.0.1 would get 403.
_FOREIGN_ONLY_VALVE = (
    '<Valve className="org.apache.catalina.valves.RemoteCIDRValve" allow="10.255.255.0/24"/>'
)


def _tomcat_base(hardened: bool) -> tuple[Path, dict[str, int]]:
    base = _tempdir("shaobing-web-tomcat-")
    conf = base / "conf"
    conf.mkdir()
    for name in ("web.xml", "logging.properties", "catalina.properties", "context.xml"):
        shutil.copy2(TOMCAT_CONF / name, conf / name)
        (conf / name).chmod(0o600)
    for sub in ("logs", "temp", "work", "webapps/ROOT"):
        (base / sub).mkdir(parents=True)
    ports = {"http": free_port(), "ajp": free_port(), "shutdown": free_port()}
    # a copy of the packaged manager whose own context.xml admits nobody from here
    manager = base / "apps" / "manager"
    shutil.copytree(TOMCAT_ADMIN / "manager", manager, symlinks=True)
    own = manager / "META-INF" / "context.xml"
    own.write_text(
        own.read_text(encoding="utf-8").replace(
            '<Valve className="org.apache.catalina.valves.RemoteCIDRValve" '
            'allow="127.0.0.0/8, ::1/128"/>',
            _FOREIGN_ONLY_VALVE,
        ),
        encoding="utf-8",
    )
    descriptor = conf / "Catalina" / "localhost" / "manager.xml"
    descriptor.parent.mkdir(parents=True)
    if hardened:
        server = _TOMCAT_HARDENED_SERVER.format(
            port=ports["http"], ajp_port=ports["ajp"], ajp_secret=os.urandom(12).hex()
        )
        _write(conf / "server.xml", server, 0o600)
        _write(
            conf / "tomcat-users.xml",
            _TOMCAT_HARDENED_USERS.format(password=os.urandom(12).hex() + "#A"),
            0o600,
        )
        # the restriction placed where Tomcat reads it: the descriptor itself
        _write(
            descriptor,
            f'<Context path="/manager" docBase="{manager}" privileged="true">\n'
            f"  {_FOREIGN_ONLY_VALVE}\n</Context>\n",
            0o640,
        )
        _write(base / "webapps" / "ROOT" / "index.html", "<h1>政务服务平台</h1>\n")
        _write(
            base / "lib" / "org" / "apache" / "catalina" / "util" / "ServerInfo.properties",
            "server.info=Apache Tomcat\nserver.number=0.0.0.0\nserver.built=\n",
        )
    else:
        # the package's server.xml with a listening shutdown port and an AJP connector
        # without secret added for the "mod_jk integration" (Ghostcat exposure)
        server = (TOMCAT_CONF / "server.xml").read_text(encoding="utf-8")
        server = server.replace('<Server port="-1"', f'<Server port="{ports["shutdown"]}"', 1)
        server = server.replace(
            '<Connector port="8080" protocol="HTTP/1.1"',
            f'<Connector port="{ports["http"]}" address="127.0.0.1" protocol="HTTP/1.1"',
            1,
        )
        # (before </Service>: the file also has <Engine> examples inside comments)
        head, sep, tail = server.rpartition("</Service>")
        server = (
            f'{head}  <Connector protocol="AJP/1.3" address="127.0.0.1" port="{ports["ajp"]}"\n'
            '               secretRequired="false" redirectPort="8443" />\n  '
            f"{sep}{tail}"
        )
        _write(conf / "server.xml", server, 0o644)
        _write(conf / "tomcat-users.xml", _TOMCAT_WEAK_USERS, 0o644)
        # the tomcat10-admin package's descriptor, pointing at our manager copy
        _write(
            descriptor,
            f'<Context path="/manager"\n\tdocBase="{manager}"\n'
            '\tantiResourceLocking="false" privileged="true" />\n',
            0o644,
        )
        shutil.copy2(
            Path("/var/lib/tomcat10/webapps/ROOT/index.html"),
            base / "webapps" / "ROOT" / "index.html",
        )
    return base, ports


def start_tomcats() -> tuple[WebServer, WebServer]:
    """A weak and a hardened Tomcat (started in parallel: each JVM takes a few seconds)."""
    if not (TOMCAT_HOME / "bin" / "catalina.sh").exists() or not TOMCAT_CONF.is_dir():
        raise ServiceUnavailable("tomcat10 not installed (apt-get install tomcat10)")
    if not (TOMCAT_ADMIN / "manager").is_dir():
        raise ServiceUnavailable("tomcat10-admin not installed (apt-get install tomcat10-admin)")
    if shutil.which("java") is None:
        raise ServiceUnavailable("java not installed")
    _require_root()
    started: list[WebServer] = []
    try:
        for hardened in (False, True):
            base, ports = _tomcat_base(hardened)
            env = {
                "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
                "LANG": "C",
                "CATALINA_HOME": str(TOMCAT_HOME),
                "CATALINA_BASE": str(base),
                "CATALINA_TMPDIR": str(base / "temp"),
                "JAVA_OPTS": "-Djava.awt.headless=true -Xss512k -XX:TieredStopAtLevel=1",
            }
            out = (base / "logs" / "console.log").open("wb")
            process = subprocess.Popen(
                [str(TOMCAT_HOME / "bin" / "catalina.sh"), "run"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
            out.close()
            started.append(
                WebServer("tomcat", base, f"http://127.0.0.1:{ports['http']}", process, base, ports)
            )
        for server in started:
            wait_ready(
                server.process,
                _http_ready(server.ports["http"]),
                name="tomcat",
                log=server.root / "logs" / "console.log",
                timeout=TOMCAT_START_TIMEOUT,
            )
    except BaseException:
        for server in started:
            server.stop()
        raise
    return started[0], started[1]
