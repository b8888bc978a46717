import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RuleEngine, type AlertChange } from '../collector/alerts/engine.ts';
import { loadRules, parseRules } from '../collector/alerts/rules-loader.ts';
import { linearTrend } from '../collector/alerts/trend.ts';
import type { Point } from '../collector/model/point.ts';
import { tempDir } from './helpers/servers.ts';

// The rule engine is pure: points and a clock in, alert changes out. These tests drive it with
// hand-made points, the way the collector's stream does.

const T0 = Date.UTC(2026, 10, 29, 9, 0, 0);
const MIN = 60_000;
const point = (measurement: string, fields: Point['fields'], at: number, tags: Record<string, string> = {}): Point => ({ measurement, tags: { site: 'merkez', device: 'srv1', kind: 'server', ...tags }, fields, time: at });
const summary = (changes: AlertChange[]) => changes.map((c) => `${c.alert.rule}${c.alert.labels.instance ? `[${c.alert.labels.instance}]` : ''}:${c.to}`);
const engineWith = (yaml: string) => new RuleEngine(parseRules(yaml, 'test.yaml'), { maxPointAgeMs: 10 * MIN });

const DISK = `
rules:
  - id: disk_almost_full
    type: threshold
    severity: warning
    category: systems
    match: { measurement: fs, field: used_pct, kinds: [server] }
    instance: mount
    above: 90
    clear: 85
    for: 5m
    message: { tr: "{{instance}} dolu", en: "{{instance}} full" }
`;

describe('threshold rules', () => {
  it('go pending, fire after the for-duration, stay firing inside the hysteresis band and resolve below the clear value', () => {
    const engine = engineWith(DISK);
    expect(summary(engine.observe([point('fs', { used_pct: 95 }, T0, { mount: '/' })], T0))).toEqual(['disk_almost_full[/]:pending']);
    expect(summary(engine.tick(T0 + 4 * MIN))).toEqual([]);
    expect(summary(engine.tick(T0 + 5 * MIN))).toEqual(['disk_almost_full[/]:firing']);
    expect(summary(engine.observe([point('fs', { used_pct: 88 }, T0 + 6 * MIN, { mount: '/' })], T0 + 6 * MIN))).toEqual([]);
    expect(summary(engine.observe([point('fs', { used_pct: 84 }, T0 + 7 * MIN, { mount: '/' })], T0 + 7 * MIN))).toEqual(['disk_almost_full[/]:resolved']);
  });

  it('cancel a pending alert whose condition went away, keep instances apart and skip other kinds', () => {
    const engine = engineWith(DISK);
    engine.observe([point('fs', { used_pct: 95 }, T0, { mount: '/' }), point('fs', { used_pct: 99 }, T0, { mount: '/var' }), point('fs', { used_pct: 99 }, T0, { kind: 'pc', mount: '/' })], T0);
    expect(engine.alerts().map((a) => a.labels.instance).sort()).toEqual(['/', '/var']);
    expect(summary(engine.observe([point('fs', { used_pct: 89 }, T0 + MIN, { mount: '/' })], T0 + MIN))).toEqual(['disk_almost_full[/]:cancelled']);
  });

  it('do not evaluate old points (an agent replaying its offline queue)', () => {
    const engine = engineWith(DISK);
    expect(engine.observe([point('fs', { used_pct: 99 }, T0 - 30 * MIN, { mount: '/' })], T0)).toEqual([]);
  });
});

describe('state, event, absence and trend rules', () => {
  it('state: fires while the value is one of the bad ones; tags "*" requires the tag', () => {
    const engine = engineWith(`
rules:
  - id: fiber_link_down
    type: state
    severity: critical
    category: network
    match: { measurement: interface, field: oper_up, tags: { link: "*" } }
    instance: iface
    in: [0]
    message: { tr: x, en: x }
`);
    expect(engine.observe([point('interface', { oper_up: 0 }, T0, { iface: 'Gi0/1' })], T0)).toEqual([]);
    expect(summary(engine.observe([point('interface', { oper_up: 0 }, T0, { iface: 'Te1/1', link: 'itfaiye' })], T0))).toEqual(['fiber_link_down[Te1/1]:firing']);
    expect(summary(engine.observe([point('interface', { oper_up: 1 }, T0 + MIN, { iface: 'Te1/1', link: 'itfaiye' })], T0 + MIN))).toEqual(['fiber_link_down[Te1/1]:resolved']);
  });

  it('event: fires on the event, resolves on its counterpart or after resolveAfter', () => {
    const engine = engineWith(`
rules:
  - id: ups_comm
    type: event
    severity: warning
    category: power
    events: [ups_communication_lost]
    resolvedBy: [ups_communication_restored]
    resolveAfter: 1h
    message: { tr: x, en: x }
`);
    const event = (type: string, at: number) => point('events', { count: 1, message: 'kart haberleşemiyor' }, at, { type, severity: 'warning', kind: 'ups' });
    expect(summary(engine.observe([event('ups_communication_lost', T0)], T0))).toEqual(['ups_comm:firing']);
    expect(engine.alerts()[0]?.detail).toBe('kart haberleşemiyor');
    expect(summary(engine.observe([event('ups_communication_restored', T0 + MIN)], T0 + MIN))).toEqual(['ups_comm:resolved']);
    engine.observe([event('ups_communication_lost', T0 + 2 * MIN)], T0 + 2 * MIN);
    expect(summary(engine.tick(T0 + 62 * MIN))).toEqual(['ups_comm:resolved']);
  });

  it('absence: fires when a device that sent data stops, resolves when data comes back', () => {
    const engine = engineWith(`
rules:
  - id: ups_silent
    type: absence
    severity: warning
    category: power
    match: { measurement: ups }
    after: 10m
    message: { tr: x, en: x }
`);
    engine.observe([point('ups', { charge_pct: 100 }, T0, { device: 'ups1', kind: 'ups' })], T0);
    expect(engine.tick(T0 + 9 * MIN)).toEqual([]);
    expect(summary(engine.tick(T0 + 11 * MIN))).toEqual(['ups_silent:firing']);
    expect(engine.tick(T0 + 12 * MIN)).toEqual([]);
    expect(summary(engine.observe([point('ups', { charge_pct: 100 }, T0 + 13 * MIN, { device: 'ups1', kind: 'ups' })], T0 + 13 * MIN))).toEqual(['ups_silent:resolved']);
  });

  it('trend: fires when the disk will be full within the horizon at the current rate, not for a flat disk', () => {
    const rules = loadRules().filter((r) => r.id === 'disk_filling_up');
    const engine = new RuleEngine(rules, { maxPointAgeMs: 10 * MIN });
    // 80 % and rising 1 % per 10 minutes: full in ~3.3 hours.
    let changes: AlertChange[] = [];
    for (let i = 0; i < 8; i++) changes = changes.concat(engine.observe([point('fs', { used_pct: 80 + i }, T0 + i * 10 * MIN, { mount: '/data' })], T0 + i * 10 * MIN));
    expect(summary(changes)).toEqual(['disk_filling_up[/data]:firing']);
    const flat = new RuleEngine(rules, { maxPointAgeMs: 10 * MIN });
    for (let i = 0; i < 8; i++) expect(flat.observe([point('fs', { used_pct: 80 }, T0 + i * 10 * MIN, { mount: '/data' })], T0 + i * 10 * MIN)).toEqual([]);
    expect(linearTrend([{ at: 0, value: 1 }, { at: 10, value: 2 }, { at: 20, value: 3 }]).timeToReach(5)).toBeCloseTo(20);
  });

  it('trend: keeps the whole window in the fit (a long flat disk with a short rise does not fire)', () => {
    const engine = new RuleEngine(loadRules().filter((r) => r.id === 'disk_filling_up'), { maxPointAgeMs: 10 * MIN });
    const changes: AlertChange[] = [];
    // 6 hours flat at 60 % every minute, then +3 % over 20 minutes: a fit over the window says 100 % is hundreds of hours away.
    for (let i = 0; i < 366; i++) changes.push(...engine.observe([point('fs', { used_pct: 60 }, T0 + i * MIN, { mount: '/data' })], T0 + i * MIN));
    for (let i = 1; i <= 20; i++) changes.push(...engine.observe([point('fs', { used_pct: 60 + (3 * i) / 20 }, T0 + (366 + i) * MIN, { mount: '/data' })], T0 + (366 + i) * MIN));
    expect(summary(changes)).toEqual([]);
  });

  it('times alerts by arrival, so a device whose clock runs fast or slow is alerted on time', () => {
    const engine = engineWith(DISK);
    // The device's clock is 4 minutes fast: its point says T0+4m, it arrives at T0.
    engine.observe([point('fs', { used_pct: 95 }, T0 + 4 * MIN, { mount: '/' })], T0);
    expect(summary(engine.tick(T0 + 2 * MIN))).toEqual([]);
    expect(summary(engine.tick(T0 + 5 * MIN))).toEqual(['disk_almost_full[/]:firing']);
  });

  it('restores pending and firing alerts after a restart and carries on from them', () => {
    const engine = engineWith(DISK);
    engine.observe([point('fs', { used_pct: 95 }, T0, { mount: '/' })], T0);
    const restored = engineWith(DISK);
    restored.restore(engine.alerts());
    expect(summary(restored.tick(T0 + 5 * MIN))).toEqual(['disk_almost_full[/]:firing']);
  });
});

describe('rule files', () => {
  it('every default rule is documented in docs/alerts.md, in Turkish and English', () => {
    const doc = readFileSync('docs/alerts.md', 'utf8');
    for (const rule of loadRules()) {
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${rule.id}\``));
      expect(row, rule.id).toBeDefined();
      expect(row).toContain(rule.message.tr);
      expect(row).toContain(rule.message.en);
    }
  });

  it('the shipped defaults load, and an own file replaces a rule by id or turns it off', () => {
    const dir = tempDir('rules');
    const own = join(dir, 'rules.yaml');
    writeFileSync(own, 'rules:\n  - id: disk_almost_full\n    type: threshold\n    severity: critical\n    category: systems\n    match: { measurement: fs, field: used_pct }\n    instance: mount\n    above: 95\n    message: { tr: a, en: b }\n  - id: ups_overload\n    type: threshold\n    enabled: false\n    severity: warning\n    category: power\n    match: { measurement: ups, field: load_pct }\n    above: 90\n    message: { tr: a, en: b }\n');
    const rules = loadRules(own);
    expect(rules.find((r) => r.id === 'disk_almost_full')).toMatchObject({ severity: 'critical', above: 95 });
    expect(rules.find((r) => r.id === 'ups_overload')?.enabled).toBe(false);
    expect(rules.length).toBe(loadRules().length);
  });

  it.each([
    ['a missing field', 'rules:\n  - id: x\n    type: threshold\n    severity: warning\n    category: c\n    match: { measurement: fs }\n    above: 1\n    message: { tr: a, en: b }\n', /rules\[0\]\.match\.field: this rule type needs match\.field/],
    ['both above and below', 'rules:\n  - id: x\n    type: threshold\n    severity: warning\n    category: c\n    match: { measurement: fs, field: f }\n    above: 1\n    below: 0\n    message: { tr: a, en: b }\n', /rules\[0\]\.above: give exactly one of above, below/],
    ['a clear value on the wrong side', 'rules:\n  - id: x\n    type: threshold\n    severity: warning\n    category: c\n    match: { measurement: fs, field: f }\n    above: 90\n    clear: 95\n    message: { tr: a, en: b }\n', /rules\[0\]\.clear: clear must be on the healthy side/],
    ['a duration without a unit', 'rules:\n  - id: x\n    type: state\n    severity: warning\n    category: c\n    match: { measurement: fs, field: f }\n    in: [0]\n    for: 5\n    message: { tr: a, en: b }\n', /rules\[0\]\.for/],
    ['an unknown rule type', 'rules:\n  - id: x\n    type: magic\n    severity: warning\n', /rules\[0\]\.type/],
    ['a rule defined twice', 'rules:\n  - { id: x, type: absence, severity: info, category: c, match: { measurement: m }, after: 1m, message: { tr: a, en: b } }\n  - { id: x, type: absence, severity: info, category: c, match: { measurement: m }, after: 1m, message: { tr: a, en: b } }\n', /rules\[1\]\.id: rule "x" is defined twice/],
    ['broken YAML', 'rules:\n  - id: [x\n', /test\.yaml:\d+/],
  ])('refuse %s, naming the line or field', (_what, yaml, message) => {
    expect(() => parseRules(yaml, 'test.yaml')).toThrow(message);
  });
});
