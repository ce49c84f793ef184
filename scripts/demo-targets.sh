#!/usr/bin/env bash
# The built-in local demo targets: real Debian daemons on 127.0.0.1 with planted weaknesses
# (Redis without a password and with a weak one, Memcached open, nginx with weak basic-auth
# and a Tomcat-manager-like realm, vsftpd with anonymous login). Loopback only.
#   scripts/demo-targets.sh start DIR   start them, state in DIR
#   scripts/demo-targets.sh stop DIR    stop them
set -euo pipefail

action="${1:?start|stop}"
dir="${2:?state directory}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

# Fixed high ports so the demo's commands and reports read the same every time.
REDIS_OPEN=16379
REDIS_WEAK=16380
MEMCACHED=21211
NGINX=18080
FTP=2121
WEBAPP=18088

stop() {
  for pidfile in "$dir"/*.pid; do
    [ -e "$pidfile" ] || continue
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

wait_port() {
  for _ in $(seq 1 50); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "demo target on port $1 did not start (see $dir/*.log)" >&2
  return 1
}

start() {
  stop
  redis-server --bind 127.0.0.1 --port "$REDIS_OPEN" --protected-mode no --save "" \
    --appendonly no --daemonize no --dir "$dir" >"$dir/redis-open.log" 2>&1 &
  echo $! >"$dir/redis-open.pid"
  redis-server --bind 127.0.0.1 --port "$REDIS_WEAK" --requirepass admin123 --save "" \
    --appendonly no --daemonize no --dir "$dir" >"$dir/redis-weak.log" 2>&1 &
  echo $! >"$dir/redis-weak.pid"

  memuser=()
  [ "$(id -u)" -eq 0 ] && memuser=(-u nobody)
  memcached -l 127.0.0.1 -p "$MEMCACHED" -U 0 "${memuser[@]}" >"$dir/memcached.log" 2>&1 &
  echo $! >"$dir/memcached.pid"

  mkdir -p "$dir/nginx/logs" "$dir/nginx/html/admin" "$dir/nginx/html/manager/html"
  printf '<html><head><title>示例市政务服务门户</title></head><body>演示站点</body></html>\n' \
    >"$dir/nginx/html/index.html"
  printf '<html><head><title>后台管理</title></head><body>admin</body></html>\n' \
    >"$dir/nginx/html/admin/index.html"
  printf '<html><head><title>/manager</title></head><body>Tomcat Web Application Manager</body></html>\n' \
    >"$dir/nginx/html/manager/html/index.html"
  printf 'admin:%s\n' "$(openssl passwd -apr1 admin123)" >"$dir/nginx/admin.htpasswd"
  printf 'tomcat:%s\n' "$(openssl passwd -apr1 tomcat)" >"$dir/nginx/tomcat.htpasswd"
  cat >"$dir/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/nginx/logs/error.log;
daemon off;
events { worker_connections 256; }
http {
  access_log $dir/nginx/logs/access.log;
  client_body_temp_path $dir/nginx/tmp-body;
  proxy_temp_path $dir/nginx/tmp-proxy;
  fastcgi_temp_path $dir/nginx/tmp-fastcgi;
  uwsgi_temp_path $dir/nginx/tmp-uwsgi;
  scgi_temp_path $dir/nginx/tmp-scgi;
  server {
    listen 127.0.0.1:$NGINX;
    root $dir/nginx/html;
    charset utf-8;
    location /admin/ { auth_basic "Admin"; auth_basic_user_file $dir/nginx/admin.htpasswd; }
    location /manager/ {
      auth_basic "Tomcat Manager Application";
      auth_basic_user_file $dir/nginx/tomcat.htpasswd;
    }
  }
}
EOF
  nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf" >"$dir/nginx.log" 2>&1 &
  # nginx writes its own pid file (master process).

  mkdir -p "$dir/ftp/pub" "$dir/ftp/empty"
  chmod 555 "$dir/ftp" 2>/dev/null || true
  printf '演示文件\n' >"$dir/ftp/pub/readme.txt" 2>/dev/null || true
  cat >"$dir/vsftpd.conf" <<EOF
listen=YES
listen_address=127.0.0.1
listen_port=$FTP
background=NO
anonymous_enable=YES
anon_root=$dir/ftp
no_anon_password=YES
local_enable=NO
write_enable=NO
pasv_enable=YES
pasv_address=127.0.0.1
pasv_min_port=21300
pasv_max_port=21400
secure_chroot_dir=$dir/ftp/empty
seccomp_sandbox=NO
ftpd_banner=Welcome to the demo FTP service.
xferlog_enable=NO
EOF
  if [ "$(id -u)" -eq 0 ]; then
    getent passwd ftp >/dev/null || printf 'ftp_username=nobody\n' >>"$dir/vsftpd.conf"
    vsftpd "$dir/vsftpd.conf" >"$dir/vsftpd.log" 2>&1 &
    echo $! >"$dir/vsftpd.pid"
  else
    echo "vsftpd needs root; the demo FTP target is left out" >&2
  fi

  # The deliberately weak web application of the test suite (tests/targets/vulnapp): SQLite,
  # loopback only; its own database and files live in the state directory.
  mkdir -p "$dir/webapp"
  .venv/bin/python -m tests.targets.vulnapp --host 127.0.0.1 --port "$WEBAPP" \
    --data-dir "$dir/webapp" >"$dir/webapp.log" 2>&1 &
  echo $! >"$dir/webapp.pid"

  for port in "$REDIS_OPEN" "$REDIS_WEAK" "$MEMCACHED" "$NGINX" "$WEBAPP"; do wait_port "$port"; done
  [ -e "$dir/vsftpd.pid" ] && wait_port "$FTP"
  echo "127.0.0.1 $REDIS_OPEN $REDIS_WEAK $MEMCACHED $NGINX $FTP $WEBAPP"
}

case "$action" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
