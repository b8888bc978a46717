import express, { type ErrorRequestHandler, type Router } from 'express';
import type { DeviceAddress } from '../../src/contract/topics.ts';
import type { AlertStore } from '../alerts/alert-store.ts';
import type { BackupService } from '../backups/backup-service.ts';
import type { Phase } from '../lifecycle/readiness.ts';
import type { DeviceRegistry } from '../registry/device-registry.ts';
import type { SecurityStore } from '../security/store.ts';
import type { SelfMetrics } from '../self-metrics.ts';
import { apiAuthentication } from './auth.ts';
import { ackRouter, type AckTokens } from './routes/ack.ts';
import { alertsRouter } from './routes/alerts.ts';
import { backupsRouter, heartbeatRouter } from './routes/heartbeats.ts';
import { devicesRouter } from './routes/devices.ts';
import { enrollmentRouter } from './routes/enrollment.ts';
import { healthRouter } from './routes/health.ts';
import { openApiRouter } from './routes/openapi.ts';
import { securityRouter } from './routes/security.ts';
import { sitesRouter } from './routes/sites.ts';
import { HttpError } from './validate.ts';

export interface ApiDeps {
  registry: DeviceRegistry;
  metrics: SelfMetrics;
  security: SecurityStore;
  /** Undefined when alerting is turned off: the alert routes say so. */
  alerts: AlertStore | undefined;
  /** Undefined when backups.file is not set: the backup routes say so. */
  backups?: BackupService | undefined;
  /** Verifies acknowledge links of notification mails (undefined: notifications are off). */
  ackTokens?: AckTokens | undefined;
  apiAuth: 'tokens' | 'open';
  /** /readyz answers 200 only while `ready`. */
  phase: () => Phase;
  /** Called when the API revoked a device, to disconnect it at once. */
  onDeviceRevoked: (address: DeviceAddress) => void;
}

/** Routes anyone may call: probes, the API description, and what agents prove with their own secrets. */
function publicRouters(deps: ApiDeps): Router[] {
  return [healthRouter(deps.metrics, deps.phase), openApiRouter(), enrollmentRouter(deps.security), ackRouter(deps.ackTokens, deps.alerts, deps.security)];
}

/** Routes behind an API token. */
function protectedRouters(deps: ApiDeps): Router[] {
  return [sitesRouter(deps.registry), devicesRouter(deps.registry), securityRouter(deps.security, deps.onDeviceRevoked), alertsRouter(deps.alerts, deps.security), backupsRouter(deps.backups, deps.security)];
}

export function apiRouters(deps: ApiDeps): Router[] {
  return [heartbeatRouter(deps.backups), ...publicRouters(deps), ...protectedRouters(deps)];
}

export function createApiApp(deps: ApiDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  // Heartbeats parse their own bodies, so that a broken one is counted as such.
  app.use(heartbeatRouter(deps.backups));
  app.use(express.json({ limit: '64kb' }));
  app.use(express.urlencoded({ extended: false, limit: '1kb' }));
  for (const router of publicRouters(deps)) app.use(router);
  app.use('/api/v1', apiAuthentication(deps.security, deps.apiAuth));
  for (const router of protectedRouters(deps)) app.use(router);
  app.use((req, _res, next) => next(new HttpError(404, `no route ${req.method} ${req.path}`)));
  const onError: ErrorRequestHandler = (error: unknown, _req, res, _next) => {
    const status = error instanceof HttpError ? error.status : ((error as { status?: number }).status ?? 500);
    const message = status >= 500 ? 'internal error' : (error as Error).message;
    res.status(status).json({ error: message });
  };
  app.use(onError);
  return app;
}
