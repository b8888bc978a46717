import { randomBytes } from 'node:crypto';
import { Router } from 'express';
import { z } from 'zod';
import { ID_PATTERN } from '../../../src/contract/topics.ts';
import type { AlertStore, MaintenanceEntry, Silence, StoredAlert } from '../../alerts/alert-store.ts';
import type { SecurityStore } from '../../security/store.ts';
import { actorOf, requireRole } from '../auth.ts';
import { HttpError, idSchema, parseOr400 } from '../validate.ts';

// Alerts over the API: list and read (read role), acknowledge, silence and maintenance windows
// (operator). The admin CLI validates with the same schemas and acts through the same
// `alertActions`, so both check, store and audit alike (the actor is the token's name or
// cli:<user>).

const MAX_MAINTENANCE_MS = 30 * 86_400_000;

export const listQuery = z.strictObject({
  state: z.enum(['active', 'pending', 'firing', 'resolved', 'cancelled']).optional(),
  site: idSchema.optional(),
  limit: z.coerce.number().int().min(1).max(1_000).default(200),
});
export const alertParam = z.strictObject({ id: z.string().regex(/^[A-Za-z0-9_-]{16}$/, 'expected a 16-character alert id') });
const ackBody = z.strictObject({ comment: z.string().max(500).optional() }).default({});
export const silenceBody = z.strictObject({
  matchers: z
    .strictObject({ rule: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/).optional(), site: idSchema.optional(), device: idSchema.optional(), instance: z.string().min(1).max(128).optional() })
    .refine((m) => Object.keys(m).length > 0, 'at least one matcher: a silence of everything is a maintenance window'),
  durationMinutes: z.number().int().min(1).max(60 * 24 * 30),
  comment: z.string().min(1, 'say why (it is shown to the team)').max(500),
});
export const silenceParam = z.strictObject({ id: z.string().regex(/^sil_[0-9a-f]{12}$/, 'expected a silence id like sil_0123456789ab') });

const INSTANT_HELP = 'expected a date and time with its UTC offset, e.g. 2026-03-01T22:00+03:00 or 2026-03-01T19:00:00Z';
// The offset is required: a time without one means different instants to the operator and the server.
const instant = z.union([z.iso.datetime({ offset: true }), z.iso.datetime({ offset: true, precision: -1 })], { error: INSTANT_HELP }).transform((text) => Date.parse(text));
const siteDevice = z.string().refine((text) => {
  const [site = '', device = '', ...rest] = text.split('/');
  return rest.length === 0 && ID_PATTERN.test(site) && ID_PATTERN.test(device);
}, 'expected "site/device", e.g. "merkez/srv-yedek"');

export const maintenanceBody = z
  .strictObject({
    sites: z.array(idSchema).max(100).default([]),
    devices: z.array(siteDevice).max(1_000).default([]),
    from: instant,
    to: instant,
    reason: z.string({ error: (issue) => (issue.input === undefined ? 'required: say why (it is shown with the alerts the window keeps quiet)' : 'expected text') }).trim().min(1, 'say why (it is shown with the alerts the window keeps quiet)').max(500),
  })
  .superRefine((w, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (w.sites.length === 0 && w.devices.length === 0) issue('sites', 'name at least one site or device the window covers');
    if (w.to <= w.from) issue('to', 'must be after from');
    else if (w.to - w.from > MAX_MAINTENANCE_MS) issue('to', 'a window lasts at most 30 days after from: make a new one when it ends');
    else if (w.to <= Date.now()) issue('to', 'is in the past: the window would be over already');
  });
export const maintenanceParam = z.strictObject({ id: z.string().regex(/^mnt_[0-9a-f]{12}$/, 'expected a maintenance window id like mnt_0123456789ab') });

/** What changes alerts, for the API and the admin CLI: checked, stored and audited alike. */
export function alertActions(store: AlertStore, security: SecurityStore) {
  return {
    acknowledge(id: string, actor: string, comment: string | undefined): StoredAlert | undefined {
      const before = store.get(id);
      if (!before) throw new HttpError(404, `no alert ${id}`);
      if (before.state !== 'firing' && before.state !== 'pending') throw new HttpError(409, `alert ${id} is ${before.state}: nothing to acknowledge`);
      const after = store.acknowledge(id, actor, Date.now());
      security.audit(actor, 'alert.acknowledge', id, { comment: comment ?? null });
      return after;
    },
    addSilence(body: z.infer<typeof silenceBody>, actor: string): Silence {
      const now = Date.now();
      const silence = { id: `sil_${randomBytes(6).toString('hex')}`, matchers: body.matchers, startsAt: now, endsAt: now + body.durationMinutes * 60_000, createdBy: actor, comment: body.comment };
      store.addSilence(silence);
      security.audit(actor, 'silence.create', silence.id, { matchers: body.matchers, endsAt: silence.endsAt, comment: body.comment });
      return silence;
    },
    removeSilence(id: string, actor: string): void {
      if (!store.removeSilence(id)) throw new HttpError(404, `no silence ${id}`);
      security.audit(actor, 'silence.remove', id, {});
    },
    addMaintenance(body: z.infer<typeof maintenanceBody>, actor: string): MaintenanceEntry {
      const window = { id: `mnt_${randomBytes(6).toString('hex')}`, ...body, createdBy: actor };
      store.addMaintenance(window);
      security.audit(actor, 'maintenance.create', window.id, { sites: body.sites, devices: body.devices, from: new Date(body.from).toISOString(), to: new Date(body.to).toISOString(), reason: body.reason });
      return window;
    },
    removeMaintenance(id: string, actor: string): void {
      if (!store.removeMaintenance(id)) throw new HttpError(404, `no maintenance window ${id}`);
      security.audit(actor, 'maintenance.remove', id, {});
    },
  };
}

export function alertsRouter(store: AlertStore | undefined, security: SecurityStore): Router {
  const router = Router();
  const operator = requireRole('operator');
  const alerts = () => {
    if (!store) throw new HttpError(404, 'alerting is turned off (alerts.enabled: false)');
    return store;
  };
  const actions = () => alertActions(alerts(), security);

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
    res.json(actions().acknowledge(id, actorOf(res).name, body.comment));
  });

  router.get('/api/v1/silences', (_req, res) => {
    res.json({ silences: alerts().silences(Date.now()) });
  });
  router.post('/api/v1/silences', operator, (req, res) => {
    const body = parseOr400(silenceBody, req.body, 'body');
    res.status(201).json(actions().addSilence(body, actorOf(res).name));
  });
  router.delete('/api/v1/silences/:id', operator, (req, res) => {
    const { id } = parseOr400(silenceParam, req.params, 'path');
    actions().removeSilence(id, actorOf(res).name);
    res.status(204).end();
  });

  router.get('/api/v1/maintenance', (_req, res) => {
    res.json({ maintenance: alerts().maintenance(Date.now()) });
  });
  router.post('/api/v1/maintenance', operator, (req, res) => {
    const body = parseOr400(maintenanceBody, req.body, 'body');
    res.status(201).json(actions().addMaintenance(body, actorOf(res).name));
  });
  router.delete('/api/v1/maintenance/:id', operator, (req, res) => {
    const { id } = parseOr400(maintenanceParam, req.params, 'path');
    actions().removeMaintenance(id, actorOf(res).name);
    res.status(204).end();
  });
  return router;
}
