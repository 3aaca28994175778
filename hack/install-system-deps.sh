#!/usr/bin/env bash
# System packages the tests and the demo need (Debian). Idempotent: installs only what is missing.
set -euo pipefail
need=()
command -v openssl >/dev/null || need+=(openssl)
command -v make >/dev/null || need+=(make)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
# Real Prometheus and Alertmanager for the alert tests (hack/monitoring.py starts them with
# generated configs on loopback; the packages' own services play no part).
command -v prometheus >/dev/null && command -v promtool >/dev/null || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null || command -v alertmanager >/dev/null \
  || need+=(prometheus-alertmanager)
if [ "${#need[@]}" -gt 0 ]; then
  echo "[system-deps] apt-get install ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
  # The packages start their services where systemd runs; the tests never use them (and
  # prometheus would hold :9090). Stop only what this script just installed.
  if [ -d /run/systemd/system ]; then
    for unit in prometheus prometheus-alertmanager; do
      if [[ " ${need[*]} " == *" ${unit} "* ]]; then
        systemctl disable --now "${unit}.service" >/dev/null 2>&1 || true
      fi
    done
  fi
fi
