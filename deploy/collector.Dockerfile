# Collector image. Build from the repository root:
#   docker build -f deploy/collector.Dockerfile -t belediye-collector .
FROM node:24-bookworm-slim
WORKDIR /opt/belediye-izleme
COPY package.json package-lock.json ./
# Production dependencies only; Node 24 comes from the base image, not the `node` devDependency.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY src ./src
COPY collector ./collector
USER node
ENV COLLECTOR_REGISTRY__PATH=/var/lib/belediye-collector/registry.sqlite
ENV COLLECTOR_QUEUE__PATH=/var/lib/belediye-collector/spool.sqlite
VOLUME ["/var/lib/belediye-collector"]
EXPOSE 1883 8883 8080
ENTRYPOINT ["node", "collector/main.ts"]
CMD ["--config", "/etc/belediye-izleme/collector.yaml"]
