# Collector image. Build from the repository root:
#   docker build -f deploy/collector.Dockerfile -t belediye-collector .
# docker-compose (deploy/docker-compose.yml) builds it for you; docs/deploy.md says how it is run.
FROM node:24-bookworm-slim

# The collector's own user with a fixed UID/GID, so the host can grant it files by number
# (docs/deploy.md: `chgrp -R 10001 config` makes the configuration and PKI readable) and so
# it matches no login user of the host (1000, the `node` user of the base image, often does).
ARG COLLECTOR_UID=10001
ARG COLLECTOR_GID=10001

# fping: the ICMP probes of uptime monitoring (collector/devices/drivers/probe-icmp.ts) run it.
# It needs CAP_NET_RAW for its raw socket; the collector runs as a non-root user, whose
# processes get no capability from the container's set by themselves. A file capability on
# fping raises CAP_NET_RAW for fping alone when it is exec'd (bounded by the container's
# capability set: compose adds NET_RAW explicitly). Debian's postinst sets it only when setcap
# happens to be installed first, so it is set here and checked: the build fails without it.
# Ambient capabilities are not an option: Docker gives a non-root user none.
RUN apt-get update \
 && apt-get install -y --no-install-recommends fping libcap2-bin \
 && setcap cap_net_raw+ep /usr/bin/fping \
 && chmod u-s /usr/bin/fping \
 && getcap /usr/bin/fping | grep -q cap_net_raw \
 && rm -rf /var/lib/apt/lists/*

# The data directories exist in the image owned by the collector's user (mode 700): Docker
# copies a mount point's owner and mode into a named volume that is empty when first mounted,
# so collector-data and collector-backups start out writable by this user. A directory made
# only by VOLUME (as before) is root's, and the collector could not open its stores.
RUN groupadd --system --gid "${COLLECTOR_GID}" belediye-collector \
 && useradd --system --uid "${COLLECTOR_UID}" --gid "${COLLECTOR_GID}" --home-dir /var/lib/belediye-collector --no-create-home --shell /usr/sbin/nologin belediye-collector \
 && install -d -o "${COLLECTOR_UID}" -g "${COLLECTOR_GID}" -m 700 /var/lib/belediye-collector /var/backups/izleme

WORKDIR /opt/belediye-izleme
COPY package.json package-lock.json ./
# Production dependencies only; Node 24 comes from the base image, not the `node` devDependency.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY src ./src
COPY collector ./collector
# The entrypoint (InfluxDB token from a file) and the healthcheck (GET /readyz on the container's own API).
COPY deploy/compose/collector-entrypoint.sh deploy/compose/healthcheck.ts ./deploy/compose/

# Stores whose path the configuration leaves at its default (./data/spool.sqlite, reports.path,
# alerts.outboxPath, backups.path …, relative to this working directory) land in the data
# volume through this link, also those a later release adds; absolute paths in collector.yaml
# are taken as written. Without it they would be in /opt/belediye-izleme/data: no volume, root's.
RUN ln -s /var/lib/belediye-collector /opt/belediye-izleme/data

USER ${COLLECTOR_UID}:${COLLECTOR_GID}
VOLUME ["/var/lib/belediye-collector", "/var/backups/izleme"]
EXPOSE 1883 8883 8080 162/udp
ENTRYPOINT ["/bin/sh", "/opt/belediye-izleme/deploy/compose/collector-entrypoint.sh"]
CMD ["--config", "/etc/belediye-izleme/collector.yaml"]
