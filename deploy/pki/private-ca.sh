#!/usr/bin/env bash
# A private certificate authority for one municipality (docs/security.md, "TLS and a private CA").
# Needs only openssl. Keep the CA key offline; copy ca.pem to every agent and the collector.
#
#   private-ca.sh <dir> ca                              the CA (ca.pem, ca.key), valid 10 years
#   private-ca.sh <dir> server <name> <dns-or-ip>...    collector certificate (<name>.pem/.key), 2 years
#   private-ca.sh <dir> device <site>/<device>          client certificate for mutual TLS, 2 years;
#                                                       its CN is the device's MQTT user name
set -euo pipefail

dir=${1:?usage: private-ca.sh <dir> ca|server|device ...}
what=${2:?usage: private-ca.sh <dir> ca|server|device ...}
shift 2
mkdir -p "$dir"
umask 077

case "$what" in
  ca)
    openssl req -x509 -newkey rsa:3072 -nodes -keyout "$dir/ca.key" -out "$dir/ca.pem" -days 3650 \
      -subj "/O=Belediye Bilgi Islem/CN=Belediye Izleme CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    ;;
  server)
    name=${1:?server needs a file name}
    shift
    [ $# -gt 0 ] || { echo "server needs at least one DNS name or IP address" >&2; exit 2; }
    san=""
    for entry in "$@"; do
      if [[ $entry =~ ^[0-9.]+$|: ]]; then san+="IP:$entry,"; else san+="DNS:$entry,"; fi
    done
    openssl req -newkey rsa:2048 -nodes -keyout "$dir/$name.key" -out "$dir/$name.csr" -subj "/CN=$1" 2>/dev/null
    openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial -out "$dir/$name.pem" -days 730 \
      -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "${san%,}") 2>/dev/null
    rm -f "$dir/$name.csr"
    ;;
  device)
    id=${1:?device needs <site>/<device>}
    [[ $id =~ ^[a-z0-9][a-z0-9._-]{0,63}/[a-z0-9][a-z0-9._-]{0,63}$ ]] || { echo "expected <site>/<device>, got $id" >&2; exit 2; }
    file=${id/\//_}
    # A "/" inside a -subj value must be escaped, or openssl starts a new attribute there.
    openssl req -newkey rsa:2048 -nodes -keyout "$dir/$file.key" -out "$dir/$file.csr" -subj "/CN=${id/\//\\/}" 2>/dev/null
    openssl x509 -req -in "$dir/$file.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial -out "$dir/$file.pem" -days 730 \
      -extfile <(printf 'extendedKeyUsage=clientAuth\n') 2>/dev/null
    rm -f "$dir/$file.csr"
    ;;
  *)
    echo "unknown command $what (ca, server, device)" >&2
    exit 2
    ;;
esac
