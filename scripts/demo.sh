#!/usr/bin/env bash
# make demo: a demo workspace on the embedded SQLite database, scoped to 127.0.0.0/8.
# A full assessment: targets, scans, baselines, hardening, risk, MLPS, and the report set.
set -euo pipefail
cd "$(dirname "$0")/.."

out="${DEMO_OUT:-$PWD/demo-output}"
rm -rf "$out/workspace"
mkdir -p "$out"
export SHAOBING_HOME="$out/workspace"
unset SHAOBING_DATABASE_URL
export SHAOBING_ACTOR="demo"
sb() { .venv/bin/shaobing "$@"; }

year=$(date +%Y)
engagement="${year}年度网络安全服务项目"

sb init
sb client add "示例市大数据管理局" --code demo --contact "信息中心 陈工"
sb engagement create "$engagement" --client demo --code "SB-${year}-001" \
  --scope 127.0.0.0/8 --exclude 127.0.0.254 \
  --start "${year}-01-01" --end "${year}-12-31" \
  --system 政务服务门户 --system 统一身份认证系统 --system 数据共享交换平台 \
  --item vuln_scan:semiannual:3,9 --item pentest:once:due="${year}-05-31" \
  --item risk_assessment:quarterly --item inspection:monthly --item hardening:quarterly \
  --item mlps_assessment:yearly --item incident_response \
  --sla incident_response=30 --sla remote_handling=2h --sla onsite_arrival=6h \
  --sla incident_resolution=48h --sla critical_fault_response=20 --sla regulator_notification=24h
sb asset import demo/asset-ledger.csv --engagement "$engagement"
sb asset export "$out/资产台账.xlsx" --client demo
sb asset template "$out/资产台账模板.xlsx"
sb engagement show "$engagement"
sb asset list --client demo

echo
echo "== 授权范围检查 =="
sb scope check 127.0.0.10 --engagement "$engagement" --port 8080
sb scope check 127.0.0.254 --engagement "$engagement" || true
sb scope check 192.0.2.10 --engagement "$engagement" || true

echo
echo "== 网络扫描：本机演示靶标（Redis、Memcached、nginx、vsftpd、Web 应用，仅监听 127.0.0.1）=="
bash scripts/demo-targets.sh start "$out/targets" >/dev/null
trap 'bash scripts/demo-targets.sh stop "$out/targets"' EXIT
# A demo policy: the standard checks with a shortened dictionary, so the demo takes seconds.
mkdir -p "$SHAOBING_HOME/policies"
cat >"$SHAOBING_HOME/policies/demo.yaml" <<'POLICY'
demo:
  title: "演示：标准检查（缩减字典）"
  description: "与 default 相同的检查项，弱口令只试每个协议最常见的 40 组口令且不节流，仅用于本机演示靶标。"
  safety: [passive, active]
  udp_ports: []
  checks: ["*"]
  options:
    "weak-credential.*": {max_pairs: 40, max_attempts_per_account: null}
POLICY
sb scan 127.0.0.1 --engagement "$engagement" --policy demo \
  --ports 16379,16380,21211,18080,2121 --zone internet --json "$out/扫描结果.json"

echo
echo "== Web 应用扫描：演示用政务服务网站（http://127.0.0.1:18088/，含故意留下的漏洞）=="
sb webscan http://127.0.0.1:18088/ --engagement "$engagement" \
  --login-form http://127.0.0.1:18088/login --user admin --password admin123 \
  --max-time 600 --json "$out/Web扫描结果.json"

echo
echo "== 基线核查：本机（Linux 基线）、演示 Redis（数据库连接）、离线镜像（弱配置主机）=="
sb baseline check --profile linux --engagement "$engagement" \
  --json "$out/基线核查-本机.json" >"$out/基线核查-本机.txt"
head -n 1 "$out/基线核查-本机.txt"
sb baseline check --profile redis --target redis://127.0.0.1:16379/ --engagement "$engagement" \
  --json "$out/基线核查-Redis.json" >"$out/基线核查-Redis.txt"
head -n 1 "$out/基线核查-Redis.txt"
# An offline image of a weakly configured Debian 12 server (the test suite's fixture tree),
# unpacked with its permissions, checked and hardened with backup, re-check and rollback.
image="$out/离线镜像"
rm -rf "$image"
mkdir -p "$image"
.venv/bin/python -c "import sys; from pathlib import Path; sys.path.insert(0, '.'); \
from tests.baseline.roots import materialise; materialise('debian12-weak', Path(sys.argv[1]))" "$image"
sb baseline check --profile linux --root "$image/debian12-weak" --engagement "$engagement" \
  --json "$out/基线核查-离线镜像.json" >"$out/基线核查-离线镜像.txt"
head -n 1 "$out/基线核查-离线镜像.txt"
sb baseline harden --profile linux --root "$image/debian12-weak" \
  --rules linux.ssh.,linux.password.max-days,linux.file.shadow-perms >"$out/加固计划.txt"
echo "加固计划（未执行）: $out/加固计划.txt"
sb baseline harden --profile linux --root "$image/debian12-weak" --engagement "$engagement" \
  --rules linux.ssh.,linux.password.max-days,linux.file.shadow-perms --yes \
  --json "$out/加固结果.json" | grep -E "^(加固记录|基线 )"
sb baseline runs --engagement "$engagement"
sb findings export "$out/漏洞清单.xlsx" --engagement "$engagement"
sb workorder list --engagement "$engagement"

echo
echo "== 风险评估（GB/T 20984-2022，矩阵法）=="
sb risk assess --engagement "$engagement" --json >"$out/风险评估.json"
sb risk runs --engagement "$engagement"

echo
echo "== 等级保护第三级测评（GB/T 22239-2019）：由扫描与基线结果预填，生成差距与整改工单 =="
sb mlps init --engagement "$engagement" --level 3 >"$out/等保预填.txt"
head -n 3 "$out/等保预填.txt"
# Assessment objects the ledger does not list: the host the demo checked, the offline image and
# the demo Redis (a database object); scoring pre-fills them again from their baseline runs.
sb mlps add-object --engagement "$engagement" "本机（基线核查主机）" --type host --host "$(hostname)"
sb mlps add-object --engagement "$engagement" "遗留应用服务器（离线镜像）" --type host --host app-legacy02
sb mlps add-object --engagement "$engagement" "会话缓存 Redis（演示）" --type database --host 127.0.0.1
sb mlps score --engagement "$engagement" --json >"$out/等保得分.json"
sb mlps gaps --engagement "$engagement" --work-orders >"$out/等保差距.txt"
.venv/bin/python -c "import json,sys; d=json.load(open(sys.argv[1],encoding='utf-8')); \
print(f\"等保综合得分 {d['score']}，结论 {d['rating']}，高风险项 {len(d['high_risk'])} 项\")" "$out/等保得分.json"
sb datasec init --engagement "$engagement" >/dev/null

echo
echo "== 报告：按合同交付物生成（DOCX 可编辑、PDF、HTML，附件 XLSX）=="
reports="$out/报告"
rm -rf "$reports"
mkdir -p "$reports"
month=$(date +%Y-%m)
build() {
  local type=$1 name=$2
  shift 2
  # The editable DOCX is built last so that it is the copy attached to the deliverable.
  for fmt in pdf html docx; do
    sb report build "$type" --engagement "$engagement" --format "$fmt" \
      --out "$reports/$name.$fmt" "$@" >/dev/null
  done
  echo "  $name（.docx .pdf .html）"
}
build vuln_scan 漏洞扫描报告 --deliverable auto
sb report build vuln_scan --engagement "$engagement" --format xlsx --out "$reports/漏洞扫描报告-附件.xlsx" >/dev/null
build pentest 渗透测试报告 --notes demo/pentest-notes --deliverable auto
build weakness 弱点评估报告
build baseline 基线核查报告
build hardening 安全加固报告 --deliverable auto
build risk 风险评估报告 --deliverable auto
build retest 整改复测报告
build mlps_gap 等保差距分析报告 --deliverable auto
build monthly_bulletin "每月安全信息通报-$month" --period "$month"
build acceptance 项目交付物清单及终验汇总
sb deliverables index --engagement "$engagement" --format xlsx --out "$reports/交付物索引.xlsx" >/dev/null
sb deliverables index --engagement "$engagement" --format docx --out "$reports/交付物索引.docx" >/dev/null
sb deliverables list --engagement "$engagement"

# The web console: an administrator with a generated password (shown once, here) and the
# SM2 login CA with a certificate for that account, so both logins can be tried.
console_password="Demo-$(head -c 9 /dev/urandom | base64 | tr -d '/+=' | head -c 10)#1"
if ! sb user list --json - 2>/dev/null | grep -q '"username": "demo-admin"'; then
  printf '%s\n' "$console_password" | sb user add demo-admin --role admin --password-stdin >/dev/null
else
  printf '%s\n' "$console_password" | sb user passwd demo-admin --password-stdin >/dev/null
fi
[ -f "$SHAOBING_HOME/ca/ca.crt" ] || sb ca init --cn "哨兵演示 CA" >/dev/null
[ -f "$SHAOBING_HOME/ca/users/demo-admin.crt" ] || sb ca issue demo-admin >/dev/null

echo
echo "== 演示完成 =="
echo "工作区（SQLite 数据库）: $SHAOBING_HOME"
echo "导出的资产台账:         $out/资产台账.xlsx"
echo "资产台账模板:           $out/资产台账模板.xlsx"
echo "扫描结果（JSON）:       $out/扫描结果.json"
echo "Web 扫描结果（JSON）:   $out/Web扫描结果.json"
echo "基线核查结果:           $out/基线核查-*.json（文字版 .txt）"
echo "加固计划与结果:         $out/加固计划.txt、$out/加固结果.json（回退：shaobing baseline rollback 记录号）"
echo "漏洞清单:               $out/漏洞清单.xlsx"
echo "风险评估与等保结果:     $out/风险评估.json、$out/等保得分.json、$out/等保差距.txt"
echo "报告（共 $(ls "$reports" | wc -l) 个文件）:  $reports/"
echo "Web 控制台:             SHAOBING_HOME=$SHAOBING_HOME .venv/bin/shaobing serve   → http://127.0.0.1:8000/"
echo "  管理员 demo-admin，初始密码 $console_password（首次登录须修改）"
echo "  SM2 证书登录：$SHAOBING_HOME/ca/users/demo-admin.crt 与 .key"
echo "继续体验: SHAOBING_HOME=$SHAOBING_HOME .venv/bin/shaobing --help"
