import { Router } from 'express';
import { z } from 'zod';
import type { DeviceAddress } from '../../../src/contract/topics.ts';
import { API_ROLES } from '../../security/policy.ts';
import type { SecurityStore } from '../../security/store.ts';
import { actorOf, requireRole } from '../auth.ts';
import { deviceParams, HttpError, idSchema, parseOr400 } from '../validate.ts';

// Administration of identities over the API (the same operations as `collector/admin.ts` on
// the collector host). Every change is written to the audit log with the token's name.

const tokenBody = z.strictObject({
  site: idSchema,
  maxUses: z.number().int().min(1).max(100_000).default(1),
  expiresInHours: z.number().positive().max(24 * 365).default(72),
});
const apiTokenBody = z.strictObject({ name: z.string().regex(/^[\p{L}\p{N} ._@-]{1,64}$/u, 'expected 1-64 letters, digits, space . _ @ -'), role: z.enum(API_ROLES) });
const idParam = z.strictObject({ id: z.string().regex(/^[0-9a-f]{12}$/, 'expected a 12-digit hex token id') });
const auditQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(10_000).default(100) });

export function securityRouter(store: SecurityStore, onDeviceRevoked: (address: DeviceAddress) => void): Router {
  const router = Router();
  const admin = requireRole('admin');

  router.post('/api/v1/enrollment-tokens', admin, (req, res) => {
    const body = parseOr400(tokenBody, req.body, 'body');
    const expiresAt = Date.now() + body.expiresInHours * 3_600_000;
    const created = store.createEnrollmentToken({ site: body.site, maxUses: body.maxUses, expiresAt, actor: actorOf(res).name });
    res.status(201).json({ id: created.id, token: created.token, site: body.site, maxUses: body.maxUses, expiresAt: new Date(expiresAt).toISOString() });
  });
  router.get('/api/v1/enrollment-tokens', admin, (_req, res) => {
    res.json({ tokens: store.enrollmentTokens() });
  });
  router.delete('/api/v1/enrollment-tokens/:id', admin, (req, res) => {
    const { id } = parseOr400(idParam, req.params, 'path');
    if (!store.revokeEnrollmentToken(id, actorOf(res).name)) throw new HttpError(404, `no active enrollment token ${id}`);
    res.status(204).end();
  });

  router.get('/api/v1/credentials', admin, (_req, res) => {
    res.json({ devices: store.deviceCredentials() });
  });
  router.post('/api/v1/devices/:site/:device/credentials', admin, (req, res) => {
    const issued = store.issueDeviceCredentials(deviceParams(req), actorOf(res).name);
    res.status(201).json({ ...issued, clientId: issued.username });
  });
  router.delete('/api/v1/devices/:site/:device/credentials', admin, (req, res) => {
    const address = deviceParams(req);
    if (!store.revokeDevice(address, actorOf(res).name)) throw new HttpError(404, `device ${address.site}/${address.device} has no active credentials`);
    onDeviceRevoked(address);
    res.status(204).end();
  });

  router.post('/api/v1/api-tokens', admin, (req, res) => {
    const body = parseOr400(apiTokenBody, req.body, 'body');
    const created = store.createApiToken({ name: body.name, role: body.role, actor: actorOf(res).name });
    res.status(201).json({ id: created.id, token: created.token, name: body.name, role: body.role });
  });
  router.delete('/api/v1/api-tokens/:id', admin, (req, res) => {
    const { id } = parseOr400(idParam, req.params, 'path');
    if (!store.revokeApiToken(id, actorOf(res).name)) throw new HttpError(404, `no active API token ${id}`);
    res.status(204).end();
  });

  router.get('/api/v1/audit', admin, (req, res) => {
    res.json({ entries: store.auditLog(parseOr400(auditQuery, req.query, 'query').limit) });
  });
  return router;
}
