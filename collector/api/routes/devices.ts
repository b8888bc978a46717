import { Router } from 'express';
import { z } from 'zod';
import type { DeviceRegistry } from '../../registry/device-registry.ts';
import { deviceParams, HttpError, idSchema, parseOr400 } from '../validate.ts';

const listQuery = z.strictObject({
  site: idSchema.optional(),
  kind: idSchema.optional(),
  online: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
});

export function devicesRouter(registry: DeviceRegistry): Router {
  const router = Router();
  router.get('/api/v1/devices', (req, res) => {
    res.json({ devices: registry.list(parseOr400(listQuery, req.query, 'query')) });
  });
  router.get('/api/v1/devices/:site/:device', (req, res) => {
    const address = deviceParams(req);
    const detail = registry.get(address);
    if (!detail) throw new HttpError(404, `device ${address.site}/${address.device} is not known`);
    res.json(detail);
  });
  router.get('/api/v1/devices/:site/:device/inventory', (req, res) => {
    const address = deviceParams(req);
    const inventory = registry.inventory(address);
    if (!inventory) throw new HttpError(404, `no inventory for ${address.site}/${address.device}`);
    res.json(inventory);
  });
  return router;
}
