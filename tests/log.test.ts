import { describe, expect, it } from 'vitest';
import { createLogger, rateLimited } from '../src/log.ts';

describe('logger', () => {
  it('never writes secrets', () => {
    const lines: string[] = [];
    const log = createLogger({ name: 't', write: (l) => lines.push(l) });
    log.log('info', 'connect', { mqtt: { url: 'mqtt://x', password: 'hunter2', username: 'u' }, token: 'abc', community: 'public' });
    const text = lines.join('');
    expect(text).not.toMatch(/hunter2|"abc"|public/);
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: 'connect', mqtt: { url: 'mqtt://x', password: '[redacted]', username: 'u' } });
  });

  it('rate-limits repeated records and reports what it held back', () => {
    const lines: string[] = [];
    let t = 0;
    const log = rateLimited(createLogger({ name: 't', write: (l) => lines.push(l) }), { burst: 2, windowMs: 1000, now: () => t });
    for (let i = 0; i < 10; i++) log.log('warn', 'rejected', { i });
    expect(lines).toHaveLength(2);
    expect(log.suppressed()).toBe(8);
    t = 1500;
    log.log('warn', 'rejected', { i: 99 });
    expect(JSON.parse(lines[2]!)).toMatchObject({ i: 99, suppressedSinceLast: 8 });
  });
});
