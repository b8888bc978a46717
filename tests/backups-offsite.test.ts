import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { backupJobSchema } from '../agent/backup/config.ts';
import { backupSource } from '../agent/sources/backup.ts';
import { RuleEngine } from '../collector/alerts/engine.ts';
import { parseRules } from '../collector/alerts/rules-loader.ts';
import { startOffsiteService, type OffsiteService } from '../collector/backups/offsite-service.ts';
import { compareOffsite, isCopyOf, judgeOffsite, offsitePoint, parseOffsiteReport, type OffsiteReport } from '../collector/backups/offsite.ts';
import { metricsToPoints } from '../collector/ingest/map-points.ts';
import type { Point } from '../collector/model/point.ts';
import { waitFor } from './helpers/servers.ts';

// The off-site comparison. The reports come from the agent's real backup source reading real
// files the test writes into two temp dirs (the primary's building and the copy's), with
// controlled modification times; the verdicts go through the real rule engine with the rules
// proposed for collector/alerts/default-rules.yaml.

/** Proposed for collector/alerts/default-rules.yaml (the lead adds them). */
const PROPOSED_RULES = `
rules:
  - id: backup_offsite_missing
    type: state
    severity: critical
    category: systems
    match: { measurement: backup_offsite, field: missing }
    instance: instance
    in: [1]
    for: 1h                               # the copy's agent may report a slow-cadence period after the primary's
    message:
      tr: "{{device}}: {{instance}} yedeğinin uzak kopyası yok: ikinci konumda hiç yedek dosyası görünmüyor"
      en: "{{device}}: backup {{instance}} has no off-site copy: no backup file shows at the second location"
  - id: backup_offsite_lagging
    type: threshold
    severity: warning
    category: systems
    match: { measurement: backup_offsite, field: lag_s }
    instance: instance
    above: 86400                          # the newest backup a day old and still not copied
    message:
      tr: "{{device}}: {{instance}} yedeğinin en yenisi {{value}} saniyedir uzak konuma kopyalanmadı"
      en: "{{device}}: the newest backup {{instance}} has not reached the off-site copy for {{value}} seconds"
  - id: backup_offsite_mismatch
    type: state
    severity: critical
    category: systems
    match: { measurement: backup_offsite, field: mismatch }
    instance: instance
    in: [1]
    message:
      tr: "{{device}}: {{instance}} yedeğinin uzak kopyası farklı (boyut ya da SHA-256 tutmuyor): kopya bozuk ya da yarım"
      en: "{{device}}: the off-site copy of backup {{instance}} differs (size or SHA-256): the copy is damaged or incomplete"
`;

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bi-offsite-'));
  dirs.push(dir);
  return dir;
}

/** Writes `content` as `name`, last modified `ageMs` ago. */
function put(dir: string, name: string, content: Buffer, ageMs: number): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  const at = (Date.now() - ageMs) / 1000;
  utimesSync(path, at, at);
  return path;
}

interface Agent {
  site: string;
  device: string;
}
const MERKEZ: Agent = { site: 'merkez', device: 'srv-yedek' };
const ITFAIYE: Agent = { site: 'itfaiye', device: 'nas-kopya' };

/** One collection of the agent's real backup source, as the points the collector would accept. */
async function collect(agent: Agent, jobs: Record<string, unknown>[]): Promise<Point[]> {
  const metrics = await backupSource(jobs.map((j) => backupJobSchema.parse(j))).collect();
  return metricsToPoints(agent, 'server', { v: 1, ts: Date.now(), metrics });
}
const primaryJob = (dir: string) => ({ id: 'dosya-sunucu', path: join(dir, '*.tar.gz'), maxAge: '8d', offsite: { role: 'primary', pair: 'dosya-sunucu-kopya' } });
const copyJob = (dir: string) => ({ id: 'dosya-sunucu-kopya', path: join(dir, '*.tar.gz'), maxAge: '8d', offsite: { role: 'copy', pair: 'dosya-sunucu' } });

function reportOf(point: Point): OffsiteReport {
  const report = parseOffsiteReport(point);
  if (!report || 'error' in report) throw new Error(`not an off-site report: ${JSON.stringify(report)}`);
  return report;
}

const services: OffsiteService[] = [];
afterEach(() => services.splice(0).forEach((s) => s.close()));
function service(options: Parameters<typeof startOffsiteService>[1] = {}): { service: OffsiteService; emitted: Point[] } {
  const emitted: Point[] = [];
  const s = startOffsiteService({ enqueue: (points) => (emitted.push(...points), true) }, options);
  services.push(s);
  return { service: s, emitted };
}

describe('off-site comparison of real files', () => {
  it('the same newest file at both locations is ok; the copy one backup behind is lagging by the age of the primary\'s newest', async () => {
    const [here, there] = [tempDir(), tempDir()];
    put(here, 'dosya-2026-11-01.tar.gz', randomBytes(40_000), 2 * DAY);
    put(here, 'dosya-2026-11-02.tar.gz', randomBytes(41_000), DAY + 3 * HOUR);
    copyFileSync(join(here, 'dosya-2026-11-02.tar.gz'), join(there, 'dosya-2026-11-02.tar.gz'));
    // cp does not keep the time: the copy's file is newer on disk than the primary's.
    utimesSync(join(there, 'dosya-2026-11-02.tar.gz'), (Date.now() - DAY) / 1000, (Date.now() - DAY) / 1000);
    const { service: s, emitted } = service();
    s.observe([...(await collect(MERKEZ, [primaryJob(here)])), ...(await collect(ITFAIYE, [copyJob(there)]))]);
    expect(emitted).toHaveLength(1);
    expect(emitted[0]).toMatchObject({ measurement: 'backup_offsite', tags: { site: 'merkez', device: 'srv-yedek', instance: 'dosya-sunucu' }, fields: { state: 'ok', ok: 1, lag_s: 0, missing: 0, mismatch: 0, copy: 'itfaiye/nas-kopya' } });

    // A new backup at the primary, not copied yet.
    put(here, 'dosya-2026-11-03.tar.gz', randomBytes(42_000), 3 * HOUR);
    s.observe(await collect(MERKEZ, [primaryJob(here)]));
    expect(emitted).toHaveLength(2);
    expect(emitted[1]!.fields).toMatchObject({ state: 'lagging', ok: 0, missing: 0, mismatch: 0 });
    expect(emitted[1]!.fields.lag_s).toBeGreaterThanOrEqual(3 * 3600);
    expect(emitted[1]!.fields.lag_s).toBeLessThanOrEqual(3 * 3600 + 5);
  });

  it('same name but another size, or the same size and other bytes, is a mismatch', async () => {
    const [here, there] = [tempDir(), tempDir()];
    const content = randomBytes(30_000);
    put(here, 'dosya-2026-11-03.tar.gz', content, 2 * HOUR);
    put(there, 'dosya-2026-11-03.tar.gz', content.subarray(0, 20_000), HOUR);
    const primary = await collect(MERKEZ, [primaryJob(here)]);
    const { service: s, emitted } = service();
    s.observe([...primary, ...(await collect(ITFAIYE, [copyJob(there)]))]);
    expect(emitted.at(-1)!.fields).toMatchObject({ state: 'mismatch', ok: 0, mismatch: 1, missing: 0 });

    // Same length, one flipped byte: only the SHA-256 tells.
    const flipped = Buffer.from(content);
    flipped[12_345] = flipped[12_345]! ^ 0xff;
    put(there, 'dosya-2026-11-03.tar.gz', flipped, HOUR);
    s.observe(await collect(ITFAIYE, [copyJob(there)]));
    expect(emitted.at(-1)!.fields).toMatchObject({ state: 'mismatch', mismatch: 1 });
    expect(emitted.at(-1)!.fields.lag_s).toBeGreaterThanOrEqual(2 * 3600);

    // Repaired copy: ok again.
    put(there, 'dosya-2026-11-03.tar.gz', content, HOUR);
    s.observe(await collect(ITFAIYE, [copyJob(there)]));
    expect(emitted.at(-1)!.fields).toMatchObject({ state: 'ok', lag_s: 0 });
  });

  it('a copy that never arrives is missing; so is one whose folder was emptied', async () => {
    const [here, there] = [tempDir(), tempDir()];
    put(here, 'dosya-2026-11-03.tar.gz', randomBytes(10_000), 90 * MIN);
    const { service: s, emitted } = service();
    s.observe(await collect(MERKEZ, [primaryJob(here)]));
    expect(emitted.at(-1)!.fields).toMatchObject({ state: 'missing', ok: 0, missing: 1, mismatch: 0 });
    expect(emitted.at(-1)!.fields.copy).toBeUndefined();
    expect(emitted.at(-1)!.fields.lag_s).toBeGreaterThanOrEqual(90 * 60);

    const copied = put(there, 'dosya-2026-11-02.tar.gz', randomBytes(10_000), DAY);
    s.observe(await collect(ITFAIYE, [copyJob(there)]));
    expect(emitted.at(-1)!.fields).toMatchObject({ state: 'lagging', copy: 'itfaiye/nas-kopya' });
    rmSync(copied);
    s.observe(await collect(ITFAIYE, [copyJob(there)]));
    expect(emitted.at(-1)!.fields).toMatchObject({ state: 'missing', missing: 1, copy: 'itfaiye/nas-kopya' });
  });

  it('the proposed rules: missing fires after its hour, lagging past a day, mismatch at once; each resolves when the copy is good', async () => {
    const engine = new RuleEngine(parseRules(PROPOSED_RULES, 'proposed-rules.yaml'), { maxPointAgeMs: 10 * MIN });
    const primary: OffsiteReport = { site: 'merkez', device: 'srv-yedek', job: 'dosya-sunucu', role: 'primary', pair: 'p', time: 0, newest: { name: 'b.tar.gz', sizeBytes: 10, ageS: 0, sha256: 'a'.repeat(64) } };
    const copy = (newest: OffsiteReport['newest']): OffsiteReport => ({ site: 'itfaiye', device: 'nas-kopya', job: 'k', role: 'copy', pair: 'p', time: 0, ...(newest ? { newest } : {}) });
    const t0 = Date.now() - 3 * HOUR;
    const at = (t: number, c: OffsiteReport | undefined) => {
      const p = { ...primary, time: t0 };
      return engine.observe([offsitePoint(p, compareOffsite(p, c && { ...c, time: t0 }, t)!, t)], t).map((x) => [x.alert.rule, x.to]);
    };
    expect(at(t0, undefined)).toEqual([['backup_offsite_missing', 'pending']]);
    expect(engine.tick(t0 + HOUR + 1000).map((x) => [x.alert.rule, x.to])).toEqual([['backup_offsite_missing', 'firing']]);
    // The right file arrives: resolved.
    expect(at(t0 + HOUR + 2000, copy(primary.newest))).toEqual([['backup_offsite_missing', 'resolved']]);
    // Mismatch fires at once.
    const later = Date.now();
    const bad = compareOffsite({ ...primary, time: later }, copy({ ...primary.newest!, sha256: 'b'.repeat(64) }), later)!;
    expect(engine.observe([offsitePoint(primary, bad, later)], later).map((x) => [x.alert.rule, x.to])).toEqual([['backup_offsite_mismatch', 'firing']]);
    // A copy a day and a minute behind: lagging fires.
    const behind = compareOffsite({ ...primary, time: later, newest: { ...primary.newest!, ageS: 86_460 } }, copy({ ...primary.newest!, name: 'a.tar.gz' }), later)!;
    expect(behind).toMatchObject({ state: 'lagging', lagS: 86_460 });
    expect(engine.observe([offsitePoint(primary, behind, later + 1)], later + 1).map((x) => [x.alert.rule, x.to]).sort()).toEqual([
      ['backup_offsite_lagging', 'firing'],
      ['backup_offsite_mismatch', 'resolved'],
    ]);
    const good = compareOffsite({ ...primary, time: later }, copy(primary.newest), later)!;
    expect(engine.observe([offsitePoint(primary, good, later + 2)], later + 2).map((x) => [x.alert.rule, x.to])).toEqual([['backup_offsite_lagging', 'resolved']]);
  });
});

describe('pairing', () => {
  const report = (site: string, device: string, job: string, role: OffsiteReport['role'], pair: string): OffsiteReport => ({ site, device, job, role, pair, time: 1, newest: { name: 'x', sizeBytes: 1, ageS: 0, sha256: 'c'.repeat(64) } });
  const primary = report('merkez', 'srv', 'sql', 'primary', 'sql-cift');

  it('pairs by a shared pair name or by a pair naming the other job; never on the primary\'s own agent, never two primaries', () => {
    expect(isCopyOf(primary, report('itfaiye', 'nas', 'kopya', 'copy', 'sql-cift'))).toBe(true);
    expect(isCopyOf(primary, report('itfaiye', 'nas', 'sql-cift', 'copy', 'baska'))).toBe(true);
    expect(isCopyOf(primary, report('itfaiye', 'nas', 'kopya', 'copy', 'sql'))).toBe(true);
    expect(isCopyOf(primary, report('itfaiye', 'nas', 'kopya', 'copy', 'baska'))).toBe(false);
    expect(isCopyOf(primary, report('merkez', 'srv', 'kopya', 'copy', 'sql-cift'))).toBe(false);
    expect(isCopyOf(primary, report('itfaiye', 'nas', 'kopya', 'primary', 'sql-cift'))).toBe(false);
    // The same site, another machine, is another agent: it pairs.
    expect(isCopyOf(primary, report('merkez', 'nas', 'kopya', 'copy', 'sql-cift'))).toBe(true);
  });

  it('with several copies the best one counts; a copy still being hashed is waited for, not judged', () => {
    const lagging = { ...report('itfaiye', 'nas', 'k1', 'copy', 'sql-cift'), newest: { name: 'eski', sizeBytes: 1, ageS: 0 } };
    const good = report('zabita', 'nas', 'k2', 'copy', 'sql-cift');
    expect(judgeOffsite(primary, [lagging, good], 1)).toMatchObject({ state: 'ok', copy: 'zabita/nas' });
    expect(judgeOffsite(primary, [lagging], 1)).toMatchObject({ state: 'lagging' });
    const hashing = { ...good, newest: { name: 'x', sizeBytes: 1, ageS: 0 } };
    expect(judgeOffsite(primary, [lagging, hashing], 1)).toBeUndefined();
    // A primary without a file has nothing to compare: its own backup_file alert covers it.
    expect(judgeOffsite({ ...primary, newest: undefined }, [good], 1)).toBeUndefined();
  });
});

describe('the off-site service', () => {
  const point = (tags: Record<string, string>, fields: Point['fields'], time = Date.now()): Point => ({ measurement: 'backup_file', tags: { kind: 'server', ...tags }, fields, time });
  const primaryFields = { ok: 1, status: 'ok', offsite_role: 'primary', offsite_pair: 'cift', newest_name: 'a.bak', size_bytes: 100, age_s: 60, newest_sha256: 'd'.repeat(64) };

  it('re-judges every primary on its timer, so the lag grows while nobody reports', async () => {
    const { service: s, emitted } = service({ everyMs: 1_000 });
    s.observe([point({ site: 'merkez', device: 'srv', instance: 'sql' }, primaryFields)]);
    expect(emitted).toHaveLength(1);
    await waitFor('a timer judgement', async () => emitted.length >= 3, 5_000);
    expect(emitted.map((p) => p.fields.state)).toEqual(['missing', 'missing', 'missing']);
    expect(emitted[2]!.fields.lag_s).toBeGreaterThanOrEqual(61);
  });

  it('refuses malformed reports naming the field, ignores replayed older ones, and caps the jobs it remembers', () => {
    const refused: string[] = [];
    const { service: s, emitted } = service({ maxJobs: 2, onRefused: (m) => refused.push(m) });
    s.observe([
      point({ site: 'merkez', device: 'srv', instance: 'sql' }, { ...primaryFields, size_bytes: 'çok' }),
      point({ site: 'merkez', device: 'srv', instance: 'sql' }, { ...primaryFields, offsite_role: 'yedek' }),
      point({ site: 'merkez', device: 'srv', instance: 'sql' }, { ...primaryFields, newest_sha256: 'Z'.repeat(64) }),
      point({ site: 'merkez', device: 'srv' }, primaryFields),
    ]);
    expect(refused).toEqual([
      'backup_file merkez/srv/sql refused: fields.size_bytes: Invalid input: expected number, received string',
      'backup_file merkez/srv/sql refused: fields.offsite_role: expected "primary" or "copy"',
      'backup_file merkez/srv/sql refused: fields.newest_sha256: expected 64 lower-case hex digits',
      'backup_file merkez/srv/? refused: tags.instance: Invalid input: expected string, received undefined',
    ]);
    expect(emitted).toEqual([]);

    const now = Date.now();
    s.observe([point({ site: 'merkez', device: 'srv', instance: 'sql' }, primaryFields, now), point({ site: 'itfaiye', device: 'nas', instance: 'kopya' }, { ...primaryFields, offsite_role: 'copy' }, now)]);
    expect(emitted.at(-1)!.fields.state).toBe('ok');
    // The copy's agent replays an hour-old report (another file) from its offline queue: ignored.
    s.observe([point({ site: 'itfaiye', device: 'nas', instance: 'kopya' }, { ...primaryFields, offsite_role: 'copy', newest_name: 'eski.bak' }, now - HOUR)]);
    expect(emitted.at(-1)!.fields.state).toBe('ok');
    s.observe([point({ site: 'zabita', device: 'nas', instance: 'ucuncu' }, { ...primaryFields, offsite_role: 'copy' })]);
    expect(refused.at(-1)).toBe('off-site report of zabita/nas/ucuncu dropped: already 2 jobs known');
  });

  it('a job whose off-site copy was removed from its configuration resolves what it raised', () => {
    const { service: s, emitted } = service();
    s.observe([point({ site: 'merkez', device: 'srv', instance: 'sql' }, primaryFields)]);
    expect(emitted.at(-1)!.fields).toMatchObject({ state: 'missing', missing: 1 });
    const { offsite_role: _role, offsite_pair: _pair, newest_sha256: _sha, ...plain } = primaryFields;
    s.observe([point({ site: 'merkez', device: 'srv', instance: 'sql' }, plain)]);
    expect(emitted.at(-1)).toMatchObject({ tags: { instance: 'sql' }, fields: { state: 'removed', missing: 0, mismatch: 0, lag_s: 0 } });
    // Forgotten: the timer has nothing more to say about it.
    const count = emitted.length;
    s.observe([point({ site: 'merkez', device: 'srv', instance: 'sql' }, plain)]);
    expect(emitted).toHaveLength(count);
  });

  it('refuses bad options naming the option', () => {
    expect(() => startOffsiteService({ enqueue: () => true }, { everyMs: 10 })).toThrow('off-site options: everyMs: at least 1000 ms');
    expect(() => startOffsiteService({ enqueue: () => true }, { maxJobs: 0 })).toThrow(/^off-site options: maxJobs: /);
  });
});
