#!/usr/bin/env bash
# make demo: a demo workspace on the embedded SQLite database, scoped to 127.0.0.0/8.
# Later parts of the product extend this into a full assessment with reports.
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
sb findings export "$out/漏洞清单.xlsx" --engagement "$engagement"
sb workorder list --engagement "$engagement"

echo
echo "== 演示完成 =="
echo "工作区（SQLite 数据库）: $SHAOBING_HOME"
echo "导出的资产台账:         $out/资产台账.xlsx"
echo "资产台账模板:           $out/资产台账模板.xlsx"
echo "扫描结果（JSON）:       $out/扫描结果.json"
echo "Web 扫描结果（JSON）:   $out/Web扫描结果.json"
echo "漏洞清单:               $out/漏洞清单.xlsx"
echo "继续体验: SHAOBING_HOME=$SHAOBING_HOME .venv/bin/shaobing --help"
