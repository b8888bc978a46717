#!/bin/sh
# Entrypoint of the collector image (deploy/collector.Dockerfile).
# The collector takes its InfluxDB token from COLLECTOR_STORAGE__TOKEN only. In docker-compose
# the token is made at InfluxDB's first start by compose/influxdb-init/10-tokens.sh and handed
# over as a file in a volume shared with InfluxDB alone, so it never sits in .env or in
# `docker inspect`. The variable naming the file is outside the COLLECTOR_ prefix on purpose:
# the configuration loader would take COLLECTOR_… for a configuration key and refuse it.
set -eu

if [ -n "${IZLEME_INFLUX_TOKEN_FILE:-}" ]; then
  if [ ! -r "$IZLEME_INFLUX_TOKEN_FILE" ] || [ ! -s "$IZLEME_INFLUX_TOKEN_FILE" ]; then
    # Starting without a token would only fill the spool with points InfluxDB refuses: say why instead.
    echo "collector: no InfluxDB token in $IZLEME_INFLUX_TOKEN_FILE; it is written when InfluxDB is first set up (docs/deploy.md: docker compose exec influxdb /docker-entrypoint-initdb.d/10-tokens.sh)" >&2
    exit 1
  fi
  COLLECTOR_STORAGE__TOKEN=$(cat "$IZLEME_INFLUX_TOKEN_FILE")
  export COLLECTOR_STORAGE__TOKEN
fi

exec node /opt/belediye-izleme/collector/main.ts "$@"
