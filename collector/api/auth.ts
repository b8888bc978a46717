import type { Request, RequestHandler, Response } from 'express';
import { roleAllows, type ApiRole } from '../security/policy.ts';
import type { SecurityStore } from '../security/store.ts';
import { HttpError } from './validate.ts';

// API tokens with roles: read (look), operator (act on alerts and devices), admin (tokens,
// enrollment, revocation). A request carries `Authorization: Bearer api_<id>.<secret>`; the
// token's name is the actor the audit log records.

export interface ApiActor {
  /** What the audit log records: `api:<token name>`. */
  name: string;
  role: ApiRole;
}

const OPEN_ACTOR: ApiActor = { name: 'api:open-mode', role: 'admin' };

export function actorOf(res: Response): ApiActor {
  return res.locals.actor as ApiActor;
}

/** Resolves the caller; in open mode (a lab) everyone is an anonymous admin. */
export function apiAuthentication(store: SecurityStore, mode: 'tokens' | 'open'): RequestHandler {
  return (req: Request, res, next) => {
    if (mode === 'open') {
      res.locals.actor = OPEN_ACTOR;
      return next();
    }
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) {
      res.set('WWW-Authenticate', 'Bearer');
      return next(new HttpError(401, 'an API token is required (Authorization: Bearer <token>)'));
    }
    const token = store.verifyApiToken(match[1]!);
    if (!token) return next(new HttpError(401, 'unknown or revoked API token'));
    res.locals.actor = { name: `api:${token.name}`, role: token.role } satisfies ApiActor;
    next();
  };
}

export function requireRole(role: ApiRole): RequestHandler {
  return (_req, res, next) => {
    const actor = actorOf(res);
    next(roleAllows(actor.role, role) ? undefined : new HttpError(403, `role ${actor.role} may not do this (needs ${role})`));
  };
}
