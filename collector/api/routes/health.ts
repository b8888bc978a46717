import { Router } from 'express';
import type { Phase } from '../../lifecycle/readiness.ts';
import type { SelfMetrics } from '../../self-metrics.ts';

// /healthz: the process answers (liveness; restart it when this fails). /readyz: broker, stores
// and spool are open and the collector is not stopping (send traffic only on 200).
export function healthRouter(metrics: SelfMetrics, phase: () => Phase): Router {
  return Router()
    .get('/healthz', (_req, res) => {
      res.json({ status: 'ok' });
    })
    .get('/readyz', (_req, res) => {
      const now = phase();
      res.status(now === 'ready' ? 200 : 503).json({ status: now });
    })
    .get('/metrics', (_req, res) => {
      res.type('text/plain; version=0.0.4; charset=utf-8').send(metrics.renderPrometheus());
    });
}
