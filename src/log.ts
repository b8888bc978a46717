// JSON-lines logger for agent and collector. Secrets are redacted by key name, so a config
// object or an error carrying credentials can be logged without leaking them.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;
export interface Logger {
  log(level: LogLevel, message: string, fields?: LogFields): void;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_KEY = /pass(word)?|secret|token|authorization|credential|community|privkey|key$/i;

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) && v !== undefined ? '[redacted]' : redact(v, depth + 1);
  return out;
}

export function createLogger(options: { name: string; level?: LogLevel; write?: (line: string) => void }): Logger {
  const min = LEVELS[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  return {
    log(level, message, fields) {
      if (LEVELS[level] < min) return;
      const record = { time: new Date().toISOString(), level, name: options.name, msg: message, ...(redact(fields ?? {}) as LogFields) };
      write(`${JSON.stringify(record)}\n`);
    },
  };
}

/**
 * Lets the first `burst` records of a key through per window and counts the rest, reporting
 * the suppressed count with the next record that gets through.
 */
export function rateLimited(logger: Logger, options: { burst: number; windowMs: number; now?: () => number }): Logger & { suppressed: () => number } {
  const now = options.now ?? Date.now;
  const windows = new Map<string, { start: number; count: number; suppressed: number }>();
  let total = 0;
  return {
    suppressed: () => total,
    log(level, message, fields) {
      const key = `${level}:${message}`;
      const t = now();
      let w = windows.get(key);
      if (!w || t - w.start >= options.windowMs) {
        const carried = w?.suppressed ?? 0;
        w = { start: t, count: 0, suppressed: 0 };
        windows.set(key, w);
        if (carried > 0) fields = { ...fields, suppressedSinceLast: carried };
      }
      if (w.count++ < options.burst) return logger.log(level, message, fields);
      w.suppressed++;
      total++;
    },
  };
}
