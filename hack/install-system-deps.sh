#!/usr/bin/env bash
# System packages the tests and the demo need (Debian). Idempotent: installs only what is missing.
set -euo pipefail
need=()
command -v openssl >/dev/null || need+=(openssl)
command -v make >/dev/null || need+=(make)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
if [ "${#need[@]}" -gt 0 ]; then
  echo "[system-deps] apt-get install ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
