import { Router } from 'express';
import type { DeviceRegistry } from '../../registry/device-registry.ts';

export function sitesRouter(registry: DeviceRegistry): Router {
  return Router().get('/api/v1/sites', (_req, res) => {
    res.json({ sites: registry.sites() });
  });
}
