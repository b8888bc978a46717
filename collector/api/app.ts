import express, { type ErrorRequestHandler, type RequestHandler, type Router } from 'express';
import type { DeviceRegistry } from '../registry/device-registry.ts';
import type { SelfMetrics } from '../self-metrics.ts';
import { devicesRouter } from './routes/devices.ts';
import { healthRouter } from './routes/health.ts';
import { openApiRouter } from './routes/openapi.ts';
import { sitesRouter } from './routes/sites.ts';
import { HttpError } from './validate.ts';

export interface ApiDeps {
  registry: DeviceRegistry;
  metrics: SelfMetrics;
  ready: () => boolean;
  /** Where authentication will plug in (API tokens with roles); runs before every /api route. */
  authenticate?: RequestHandler;
}

export function apiRouters(deps: ApiDeps): Router[] {
  return [healthRouter(deps.metrics, deps.ready), openApiRouter(), sitesRouter(deps.registry), devicesRouter(deps.registry)];
}

export function createApiApp(deps: ApiDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(express.json({ limit: '64kb' }));
  if (deps.authenticate) app.use('/api/v1', deps.authenticate);
  for (const router of apiRouters(deps)) app.use(router);
  app.use((req, _res, next) => next(new HttpError(404, `no route ${req.method} ${req.path}`)));
  const onError: ErrorRequestHandler = (error: unknown, _req, res, _next) => {
    const status = error instanceof HttpError ? error.status : ((error as { status?: number }).status ?? 500);
    const message = status >= 500 ? 'internal error' : (error as Error).message;
    res.status(status).json({ error: message });
  };
  app.use(onError);
  return app;
}
