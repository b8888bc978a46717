import { randomBytes } from 'node:crypto';
import { Router } from 'express';
import { z } from 'zod';
import type { AlertStore } from '../../alerts/alert-store.ts';
import type { SecurityStore } from '../../security/store.ts';
import { actorOf, requireRole } from '../auth.ts';
import { HttpError, idSchema, parseOr400 } from '../validate.ts';

// Alerts over the API: list and read (read role), acknowledge and silence (operator). Every
// acknowledgement and silence is audited with the token's name.

const listQuery = z.strictObject({
  state: z.enum(['active', 'pending', 'firing', 'resolved', 'cancelled']).optional(),
  site: idSchema.optional(),
  limit: z.coerce.number().int().min(1).max(1_000).default(200),
});
const alertParam = z.strictObject({ id: z.string().regex(/^[A-Za-z0-9_-]{16}$/, 'expected a 16-character alert id') });
const ackBody = z.strictObject({ comment: z.string().max(500).optional() }).default({});
const silenceBody = z
  .strictObject({
    matchers: z
      .strictObject({ rule: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/).optional(), site: idSchema.optional(), device: idSchema.optional(), instance: z.string().min(1).max(128).optional() })
      .refine((m) => Object.keys(m).length > 0, 'at least one matcher: a silence of everything is a maintenance window'),
    durationMinutes: z.number().int().min(1).max(60 * 24 * 30),
    comment: z.string().min(1, 'say why (it is shown to the team)').max(500),
  });
const silenceParam = z.strictObject({ id: z.string().regex(/^sil_[0-9a-f]{12}$/, 'expected a silence id like sil_0123456789ab') });

export function alertsRouter(store: AlertStore | undefined, security: SecurityStore): Router {
  const router = Router();
  const operator = requireRole('operator');
  const alerts = () => {
    if (!store) throw new HttpError(404, 'alerting is turned off (alerts.enabled: false)');
    return store;
  };

  router.get('/api/v1/alerts', (req, res) => {
    const query = parseOr400(listQuery, req.query, 'query');
    res.json({ alerts: alerts().list(query) });
  });
  router.get('/api/v1/alerts/:id', (req, res) => {
    const { id } = parseOr400(alertParam, req.params, 'path');
    const alert = alerts().get(id);
    if (!alert) throw new HttpError(404, `no alert ${id}`);
    res.json({ ...alert, history: alerts().history(id) });
  });
  router.post('/api/v1/alerts/:id/ack', operator, (req, res) => {
    const { id } = parseOr400(alertParam, req.params, 'path');
    const body = parseOr400(ackBody, req.body ?? {}, 'body');
    const actor = actorOf(res).name;
    const before = alerts().get(id);
    if (!before) throw new HttpError(404, `no alert ${id}`);
    if (before.state !== 'firing' && before.state !== 'pending') throw new HttpError(409, `alert ${id} is ${before.state}: nothing to acknowledge`);
    const after = alerts().acknowledge(id, actor, Date.now());
    security.audit(actor, 'alert.acknowledge', id, { comment: body.comment ?? null });
    res.json(after);
  });

  router.get('/api/v1/silences', (_req, res) => {
    res.json({ silences: alerts().silences(Date.now()) });
  });
  router.post('/api/v1/silences', operator, (req, res) => {
    const body = parseOr400(silenceBody, req.body, 'body');
    const now = Date.now();
    const silence = { id: `sil_${randomBytes(6).toString('hex')}`, matchers: body.matchers, startsAt: now, endsAt: now + body.durationMinutes * 60_000, createdBy: actorOf(res).name, comment: body.comment };
    alerts().addSilence(silence);
    security.audit(silence.createdBy, 'silence.create', silence.id, { matchers: body.matchers, endsAt: silence.endsAt, comment: body.comment });
    res.status(201).json(silence);
  });
  router.delete('/api/v1/silences/:id', operator, (req, res) => {
    const { id } = parseOr400(silenceParam, req.params, 'path');
    if (!alerts().removeSilence(id)) throw new HttpError(404, `no silence ${id}`);
    security.audit(actorOf(res).name, 'silence.remove', id, {});
    res.status(204).end();
  });
  return router;
}
