import { Router } from 'express';
import { z } from 'zod';
import type { SecurityStore } from '../../security/store.ts';
import { HttpError, idSchema, parseOr400 } from '../validate.ts';

// What agents call without an API token: enrollment proves itself with the enrollment token,
// rotation with the device's current credentials (HTTP Basic). Neither answer is ever logged.

const enrollBody = z.strictObject({ token: z.string().min(1).max(200), site: idSchema, device: idSchema });

export function enrollmentRouter(store: SecurityStore): Router {
  const router = Router();
  router.post('/api/v1/enroll', (req, res) => {
    const body = parseOr400(enrollBody, req.body, 'body');
    const result = store.enroll(body.token, { site: body.site, device: body.device });
    if (!result.ok) throw new HttpError(403, `enrollment refused: ${result.reason}`);
    res.status(201).json({ username: result.username, password: result.password, clientId: result.username });
  });
  router.post('/api/v1/credentials/rotate', (req, res) => {
    const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(req.get('authorization') ?? '');
    const decoded = match ? Buffer.from(match[1]!, 'base64').toString('utf8') : '';
    const colon = decoded.lastIndexOf(':');
    const rotated = colon > 0 ? store.rotateDeviceCredentials(decoded.slice(0, colon), decoded.slice(colon + 1)) : undefined;
    if (!rotated) {
      res.set('WWW-Authenticate', 'Basic realm="device"');
      throw new HttpError(401, 'the device credentials are unknown, wrong or revoked');
    }
    res.json({ username: rotated.username, password: rotated.password, clientId: rotated.username });
  });
  return router;
}
