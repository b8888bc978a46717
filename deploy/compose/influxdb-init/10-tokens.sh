#!/bin/bash
# InfluxDB init script (influxdb:2.7 runs /docker-entrypoint-initdb.d/*.sh once, as root, right
# after its first setup, with the influx CLI logged in as the admin). It makes one token per
# consumer, each allowed only what that consumer does:
#   the collector: WRITE to the bucket (it only calls /api/v2/write);
#   Grafana:       READ of the bucket (InfluxQL queries through the bucket's DBRP mapping).
# Neither gets the all-access admin token. Each token is written to a file in a volume shared
# with its consumer alone, owned by the consumer's UID and mode 400.
#
# Run it again by hand on an InfluxDB set up before it existed (it skips a token whose file is
# there; delete the file to make a new one, and delete the old token with `influx auth delete`):
#   docker compose exec influxdb /docker-entrypoint-initdb.d/10-tokens.sh
set -euo pipefail

: "${IZLEME_COLLECTOR_TOKEN_DIR:?where the collector reads its token}"
: "${IZLEME_GRAFANA_TOKEN_DIR:?where Grafana reads its token}"
: "${IZLEME_COLLECTOR_UID:?the collector image's UID}"
: "${IZLEME_GRAFANA_UID:?the Grafana image's UID}"
bucket_name=${DOCKER_INFLUXDB_INIT_BUCKET:?}
org_name=${DOCKER_INFLUXDB_INIT_ORG:?}

# Run by hand (docker compose exec) the CLI may have no stored login: use the admin token.
if [ -z "${INFLUX_TOKEN:-}" ] && [ -n "${DOCKER_INFLUXDB_INIT_ADMIN_TOKEN:-}" ]; then
  export INFLUX_TOKEN=$DOCKER_INFLUXDB_INIT_ADMIN_TOKEN
fi

# The entrypoint exports the ids after its setup; run by hand, look them up.
org_id=${DOCKER_INFLUXDB_INIT_ORG_ID:-$(influx org list --name "$org_name" --hide-headers | cut -f 1)}
bucket_id=${DOCKER_INFLUXDB_INIT_BUCKET_ID:-$(influx bucket list --org-id "$org_id" --name "$bucket_name" --hide-headers | cut -f 1)}
[ -n "$org_id" ] && [ -n "$bucket_id" ] || { echo "10-tokens.sh: org $org_name or bucket $bucket_name not found" >&2; exit 1; }

# make_token <dir> <uid> <description> <--write-bucket|--read-bucket>
make_token() {
  local dir=$1 uid=$2 description=$3 permission=$4 file=$1/token json token
  if [ -s "$file" ]; then
    echo "10-tokens.sh: $file exists, kept"
    return
  fi
  json=$(influx auth create --org-id "$org_id" "$permission" "$bucket_id" --description "$description" --json)
  # --json prints the authorization with a "token" member; no jq in the image.
  token=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"token":[[:space:]]*"\([^"]*\)".*/\1/p')
  [ -n "$token" ] || { echo "10-tokens.sh: no token in the answer of influx auth create" >&2; exit 1; }
  mkdir -p "$dir"
  (umask 077 && printf '%s' "$token" > "$file.tmp")
  chown "$uid" "$file.tmp"
  chmod 400 "$file.tmp"
  mv "$file.tmp" "$file"
  echo "10-tokens.sh: $description: $permission $bucket_name -> $file"
}

make_token "$IZLEME_COLLECTOR_TOKEN_DIR" "$IZLEME_COLLECTOR_UID" "belediye-izleme collector (write)" --write-bucket
make_token "$IZLEME_GRAFANA_TOKEN_DIR" "$IZLEME_GRAFANA_UID" "belediye-izleme grafana (read)" --read-bucket
