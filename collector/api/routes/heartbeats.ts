import express, { Router, type ErrorRequestHandler, type Request, type Response } from 'express';
import { z } from 'zod';
import type { BackupService, HeartbeatKind, JobReport } from '../../backups/backup-service.ts';
import type { SecurityStore } from '../../security/store.ts';
import { actorOf, requireRole } from '../auth.ts';
import { HttpError, idSchema, parseOr400 } from '../validate.ts';

// Backup heartbeats. Public: /hb/<token>[/start|/fail], GET or POST, the way healthchecks-style
// services are called from the end of a backup script (`curl -fsS https://…/hb/bk_…?size=…`);
// the unguessable token in the URL is the job's credential. Protected (API token): the jobs
// with where they stand (read), restore drills (operator, audited), heartbeat tokens (admin,
// audited; a token is shown once).
//
// The heartbeat router parses its own bodies so that a broken one is counted as a malformed
// heartbeat: mount it before the application's body parsers.

const REFUSAL_STATUS = { unknown_token: 404, unknown_job: 404, malformed: 400, rate_limited: 429 } as const;

const jobParam = z.strictObject({ job: idSchema });
const tokenParams = z.strictObject({ job: idSchema, id: z.string().regex(/^[0-9a-f]{12}$/, 'expected a 12-digit hex token id') });
const listQuery = z.strictObject({ site: idSchema.optional() });
export const drillBody = z.strictObject({
  result: z.enum(['passed', 'failed'], { error: 'expected "passed" or "failed"' }),
  notes: z.string({ error: 'required: say what was restored and how it was checked' }).trim().min(1, 'say what was restored and how it was checked').max(1_000),
});

const configured = (service: BackupService | undefined) => {
  if (!service) throw new HttpError(404, 'backup verification is turned off (backups.file is not set)');
  return service;
};

/** The public heartbeat endpoints. */
export function heartbeatRouter(service: BackupService | undefined): Router {
  const router = Router();
  router.use('/hb', express.json({ limit: '4kb' }), express.urlencoded({ extended: false, limit: '4kb' }));
  const report = (kind: HeartbeatKind) => (req: Request, res: Response) => {
    const token = typeof req.params.token === 'string' ? req.params.token : '';
    // The body is only parsed for JSON and form posts; a plain-text body (a log) is not a field.
    const body: unknown = typeof req.body === 'object' && req.body !== null ? req.body : {};
    const result = configured(service).heartbeat(token, kind, { ...(req.query as object), ...(body as object) }, req.ip ?? req.socket.remoteAddress ?? '');
    if (!result.ok) {
      if (result.reason === 'rate_limited') res.set('Retry-After', '60');
      throw new HttpError(REFUSAL_STATUS[result.reason], result.message);
    }
    res.json(result);
  };
  for (const [suffix, kind] of [['', 'success'], ['/start', 'start'], ['/fail', 'fail']] as const) {
    router.get(`/hb/:token${suffix}`, report(kind));
    router.post(`/hb/:token${suffix}`, report(kind));
  }
  // Only the body parsers' errors (they carry a `type`); the handlers' own go to the application's handler.
  const bodyErrors: ErrorRequestHandler = (error: { type?: unknown; status?: number; message: string }, req, _res, next) => {
    if (typeof error.type !== 'string' || !service) return next(error);
    const what = error.status === 413 ? 'is larger than 4 kB' : `does not parse (${error.message})`;
    const refusal = service.refuse('malformed', `the heartbeat body ${what}`, { sourceIp: req.ip });
    next(new HttpError(error.status === 413 ? 413 : 400, refusal.message));
  };
  router.use('/hb', bodyErrors);
  return router;
}

function jobView({ job, evaluation, tokens }: JobReport) {
  const schedule = 'everyMs' in job.schedule ? { everyS: job.schedule.everyMs / 1_000 } : { cron: job.schedule.text, timezone: job.schedule.timezone };
  return {
    id: job.id,
    site: job.site,
    description: job.description ?? null,
    owner: job.owner,
    schedule,
    graceS: job.grace / 1_000,
    minSizeBytes: job.minSizeBytes ?? null,
    drillEveryDays: job.drillEvery === undefined ? null : job.drillEvery / 86_400_000,
    restoreTestOf: job.restoreTestOf ?? null,
    evaluation,
    tokens: tokens.map((t) => ({ id: t.id, createdAt: t.createdAt, createdBy: t.createdBy })),
  };
}

/** Jobs, drills and tokens, behind an API token. */
export function backupsRouter(service: BackupService | undefined, security: SecurityStore): Router {
  const router = Router();
  router.get('/api/v1/backups', (req, res) => {
    const { site } = parseOr400(listQuery, req.query, 'query');
    res.json({ jobs: configured(service).jobs().filter((r) => site === undefined || r.job.site === site).map(jobView) });
  });
  router.post('/api/v1/backups/:job/drills', requireRole('operator'), (req, res) => {
    const { job } = parseOr400(jobParam, req.params, 'path');
    const body = parseOr400(drillBody, req.body, 'body');
    const actor = actorOf(res).name;
    const evaluation = configured(service).recordDrill(job, body, actor);
    if (!evaluation) throw new HttpError(404, `no backup job ${job} in backups.yaml`);
    security.audit(actor, 'backup.drill', `backup:${job}`, { result: body.result, notes: body.notes });
    res.status(201).json({ job, result: body.result, evaluation });
  });
  router.post('/api/v1/backups/:job/tokens', requireRole('admin'), (req, res) => {
    const { job } = parseOr400(jobParam, req.params, 'path');
    const actor = actorOf(res).name;
    const created = configured(service).createToken(job, actor);
    if (!created) throw new HttpError(404, `no backup job ${job} in backups.yaml`);
    security.audit(actor, 'backup_token.create', `backup:${job}`, { id: created.id });
    res.status(201).json({ id: created.id, job, token: created.token, path: `/hb/${created.token}` });
  });
  router.delete('/api/v1/backups/:job/tokens/:id', requireRole('admin'), (req, res) => {
    const { job, id } = parseOr400(tokenParams, req.params, 'path');
    if (!configured(service).revokeToken(job, id)) throw new HttpError(404, `no active heartbeat token ${id} of job ${job}`);
    security.audit(actorOf(res).name, 'backup_token.revoke', `backup:${job}`, { id });
    res.status(204).end();
  });
  return router;
}
