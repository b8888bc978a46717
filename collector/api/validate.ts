import type { Request } from 'express';
import { z } from 'zod';
import { formatPath } from '../../src/contract/schemas.ts';
import { ID_PATTERN } from '../../src/contract/topics.ts';

export const idSchema = z.string().regex(ID_PATTERN, `expected an id matching ${ID_PATTERN}`);

/** An error the API answers with its status and message (never a stack trace). */
export class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export function parseOr400<S extends z.ZodType>(schema: S, value: unknown, where: 'path' | 'query' | 'body'): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw new HttpError(400, `invalid ${where === 'body' ? 'body field' : `${where} parameter`} ${formatPath(issue.path)}: ${issue.message}`);
}

export const deviceParams = (req: Request) => parseOr400(z.strictObject({ site: idSchema, device: idSchema }), req.params, 'path');
