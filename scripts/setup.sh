#!/usr/bin/env bash
# Installs what the project needs on Debian/Ubuntu, only where missing, so that `npm start`
# and `npm test` work as the first commands on a fresh machine.
#   scripts/setup.sh stack  → InfluxDB for the local stack
#   scripts/setup.sh test   → every server the tests start for real
#   scripts/setup.sh bench  → the peers of the SNMP benchmark (exporter, simulator, snmpget)
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-test}" in
  stack) packages=(influxdb) ;;
  test) packages=(influxdb victoria-metrics mosquitto prometheus-node-exporter openssl snmpd snmp snmpsim fping iptables iproute2 dnsmasq-base wixl msitools wine64 adduser) ;;
  bench) packages=(prometheus-snmp-exporter snmpsim snmp prometheus-blackbox-exporter fping) ;;
  *) echo "usage: $0 stack|test" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm dependencies (Node 24 itself arrives as the `node` devDependency), when missing or stale.
if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
