import { Router } from 'express';
import type { SelfMetrics } from '../../self-metrics.ts';

export function healthRouter(metrics: SelfMetrics, ready: () => boolean): Router {
  return Router()
    .get('/healthz', (_req, res) => {
      res.json({ status: 'ok' });
    })
    .get('/readyz', (_req, res) => {
      res.status(ready() ? 200 : 503).json({ status: ready() ? 'ready' : 'starting' });
    })
    .get('/metrics', (_req, res) => {
      res.type('text/plain; version=0.0.4; charset=utf-8').send(metrics.renderPrometheus());
    });
}
