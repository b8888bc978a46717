import { execFile } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { AlertStore } from '../collector/alerts/alert-store.ts';
import type { AlertChange } from '../collector/alerts/engine.ts';
import { parseEvery } from '../collector/alerts/routing-schema.ts';
import { loadRules } from '../collector/alerts/rules-loader.ts';
import type { StateTransition } from '../collector/ingest/ingest.ts';
import { DeviceRegistry } from '../collector/registry/device-registry.ts';
import { availability, expandRecurring, localDays, mergeIntervals, monthPeriod, siteAvailability, zonedInstant } from '../collector/uptime/availability.ts';
import { buildMonthlyReport, renderHtml, type ReportInput } from '../collector/uptime/monthly-report.ts';
import { OutageInputError, OutageLog, outageCause, outagePoint, type CauseContext } from '../collector/uptime/outage-log.ts';
import { mulberry32 } from './helpers/prng.ts';
import { tempDir } from './helpers/servers.ts';

// The outage log on a real SQLite file, fed by the real device registry's transitions (as the
// collector wires it); availability and the month's figures as pure functions; the report CLI run
// as an administrator runs it, its CSV read back and checked against figures this file computes
// on its own, minute by minute, from the same scripted month. Nothing here needs a network peer:
// outages come from registry transitions, which the probes' own tests produce for real.
// Istanbul has been UTC+3 all year since 2016, so the expected figures use that fixed offset and
// not the code's time-zone arithmetic.

const run = promisify(execFile);
const MIN = 60_000;
const HOUR = 60 * MIN;
const TZ = 'Europe/Istanbul';
/** "2026-10-20T10:02" Istanbul time → epoch ms, by the fixed offset. */
const ist = (local: string) => Date.parse(`${local}:00+03:00`);
const transition = (over: Partial<StateTransition>): StateTransition => ({ site: 'merkez', device: 'web', kind: 'service', online: false, reason: 'timeout', at: ist('2026-10-10T09:00'), ...over });

describe('outage log', () => {
  it('opens an outage on offline, ignores a repeated offline, closes it on online with the right duration, in a private file', () => {
    const path = join(tempDir('uptime'), 'uptime.sqlite');
    const log = OutageLog.open(path);
    const start = ist('2026-10-10T09:00');
    const opened = log.record(transition({ at: start }));
    expect(opened).toMatchObject({ site: 'merkez', device: 'web', kind: 'service', start, end: null, reason: 'timeout', cause: null });
    expect(log.record(transition({ at: start + MIN, reason: 'refused' }))).toBeNull();
    const closed = log.record(transition({ online: true, reason: 'birth', at: start + 17 * MIN }));
    expect(closed).toMatchObject({ id: opened!.id, start, end: start + 17 * MIN, reason: 'timeout' });
    // Online while up: nothing to close.
    expect(log.record(transition({ online: true, at: start + 18 * MIN }))).toBeNull();
    expect(log.outages({ from: 0, to: Date.now() })).toEqual([closed]);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    log.close();
  });

  it('keeps an open outage across a restart and closes it after reopening; a clock stepped back gives no negative duration', () => {
    const path = join(tempDir('uptime'), 'uptime.sqlite');
    const start = ist('2026-10-11T03:00');
    let log = OutageLog.open(path);
    log.record(transition({ device: 'hat-ttnet', kind: 'link', at: start }));
    log.close();
    log = OutageLog.open(path);
    expect(log.outages({ from: start, to: start + 1 })).toMatchObject([{ device: 'hat-ttnet', end: null }]);
    expect(log.record(transition({ device: 'hat-ttnet', kind: 'link', at: start + 5 * MIN }))).toBeNull();
    const closed = log.record(transition({ device: 'hat-ttnet', kind: 'link', online: true, at: start + 95 * MIN }));
    expect(closed!.end! - closed!.start).toBe(95 * MIN);
    log.record(transition({ device: 'web', at: start }));
    expect(log.record(transition({ device: 'web', online: true, at: start - HOUR }))).toMatchObject({ start, end: start });
    log.close();
  });

  it('finds outages overlapping a period, by site and device, open ones with end null', () => {
    const log = OutageLog.open(':memory:');
    const at = (h: number) => ist('2026-10-12T00:00') + h * HOUR;
    log.record(transition({ device: 'a', at: at(1) }));
    log.record(transition({ device: 'a', online: true, at: at(2) }));
    log.record(transition({ device: 'b', at: at(3) }));
    log.record(transition({ site: 'zabita', device: 'c', at: at(4) }));
    log.record(transition({ site: 'zabita', device: 'c', online: true, at: at(5) }));
    const ids = (q: Parameters<OutageLog['outages']>[0]) => log.outages(q).map((o) => `${o.device}:${o.end === null ? 'open' : 'closed'}`);
    expect(ids({ from: at(0), to: at(1) })).toEqual([]);
    expect(ids({ from: at(1.5), to: at(3.5) })).toEqual(['a:closed', 'b:open']);
    expect(ids({ from: at(2), to: at(3) })).toEqual([]);
    expect(ids({ from: at(10), to: at(11) })).toEqual(['b:open']);
    expect(ids({ from: at(0), to: at(24), site: 'zabita' })).toEqual(['c:closed']);
    expect(ids({ from: at(0), to: at(24), site: 'merkez', device: 'a' })).toEqual(['a:closed']);
    expect(log.targets().map((t) => `${t.site}/${t.device}`)).toEqual(['merkez/a', 'merkez/b', 'zabita/c']);
    log.close();
  });

  it('sets a cause later, and refuses bad input with a message naming the field, counting refused transitions', () => {
    const log = OutageLog.open(':memory:');
    const outage = log.record(transition({}))!;
    expect(log.cause(outage.id, 'power')).toBe(true);
    expect(log.get(outage.id)!.cause).toBe('power');
    expect(log.cause(9_999, 'link')).toBe(false);
    expect(() => log.cause(outage.id, 'weather' as never)).toThrow(/cause refused.*expected one of/);
    expect(() => log.record(transition({ site: 'Merkez Bina' }))).toThrow(OutageInputError);
    expect(() => log.record(transition({ site: 'Merkez Bina' }))).toThrow(/site: expected a site id/);
    expect(() => log.record(transition({ at: Number.NaN }))).toThrow(/at:/);
    expect(() => log.record({ ...transition({}), online: 'yes' } as never)).toThrow(/online:/);
    expect(log.refused).toBe(4);
    expect(() => log.outages({ from: 10, to: 5 })).toThrow(/to: to must not be before from/);
    // The refusals changed nothing.
    expect(log.outages({ from: 0, to: Date.now() })).toHaveLength(1);
    // A very long reason is kept, cut.
    expect(log.record(transition({ device: 'uzun', reason: 'x'.repeat(5_000) }))!.reason).toHaveLength(500);
    log.close();
  });

  it('is an InfluxDB point when it opens (time = start, open=1) and when it closes (time = end, duration)', () => {
    const log = OutageLog.open(':memory:');
    const start = ist('2026-10-13T08:00');
    const opened = log.record(transition({ at: start }))!;
    expect(outagePoint(opened)).toEqual({ measurement: 'outages', tags: { site: 'merkez', device: 'web', kind: 'service', cause: 'unknown' }, fields: { reason: 'timeout', start_ms: start, open: 1 }, time: start });
    const closed = log.record(transition({ online: true, at: start + 90_500 }))!;
    log.cause(closed.id, 'device');
    expect(outagePoint(log.get(closed.id)!)).toEqual({
      measurement: 'outages',
      tags: { site: 'merkez', device: 'web', kind: 'service', cause: 'device' },
      fields: { duration_s: 91, reason: 'timeout', start_ms: start, end_ms: start + 90_500 },
      time: start + 90_500,
    });
    log.close();
  });
});

describe('outage cause', () => {
  const start = ist('2026-10-20T10:02');
  const context: CauseContext = {
    alerts: [
      { site: 'merkez', device: 'ups1', rule: 'ups_on_battery', from: ist('2026-10-20T10:00'), to: ist('2026-10-20T10:30') },
      { site: 'itfaiye', device: 'ups1', rule: 'ups_battery_low', from: ist('2026-10-20T10:04'), to: null },
      { site: 'zabita', device: 'ups1', rule: 'ups_replace_battery', from: ist('2026-10-01T00:00'), to: null },
    ],
    dependencies: [{ site: 'zabita', upstream: ['merkez/sw1'] }],
    outages: [{ site: 'merkez', device: 'sw1', start: ist('2026-10-20T10:02'), end: ist('2026-10-20T10:40') }],
  };

  it('is power while the site’s UPS is on battery or low, also when the UPS alert comes a poll later', () => {
    expect(outageCause({ site: 'merkez', device: 'sw1', kind: 'switch', start }, context)).toBe('power');
    expect(outageCause({ site: 'itfaiye', device: 'sw1', kind: 'switch', start }, context)).toBe('power');
    // The same UPS alert does not explain an outage an hour later, nor one at another site.
    expect(outageCause({ site: 'merkez', device: 'sw1', kind: 'switch', start: start + HOUR }, context)).toBe('device');
    expect(outageCause({ site: 'itfaiye', device: 'sw1', kind: 'switch', start: start - HOUR }, context)).toBe('device');
    // Needing a new battery is no power cut.
    expect(outageCause({ site: 'zabita', device: 'nvr', kind: 'nvr', start: start + 2 * HOUR }, context)).toBe('device');
  });

  it('is link for an internet line, or while the site’s upstream device is down; device otherwise', () => {
    expect(outageCause({ site: 'zabita', device: 'eposta', kind: 'service', start: ist('2026-10-20T10:05') }, context)).toBe('link');
    expect(outageCause({ site: 'zabita', device: 'eposta', kind: 'service', start: ist('2026-10-20T12:00') }, context)).toBe('device');
    expect(outageCause({ site: 'ilce', device: 'hat-1', kind: 'link', start: ist('2026-10-20T12:00') }, context)).toBe('link');
    // The upstream device is not its own cause.
    expect(outageCause({ site: 'merkez', device: 'sw1', kind: 'switch', start: ist('2026-10-20T12:00') }, { ...context, dependencies: [{ site: 'merkez', upstream: ['merkez/sw1'] }] })).toBe('device');
  });
});

describe('availability', () => {
  const october = monthPeriod(2026, 10, TZ);

  it('has Istanbul month and day boundaries, and follows a DST change where there is one', () => {
    expect(october).toEqual({ from: Date.parse('2026-09-30T21:00:00Z'), to: Date.parse('2026-10-31T21:00:00Z') });
    const days = localDays(october.from, october.to, TZ);
    expect(days).toHaveLength(31);
    expect(days[0]).toEqual({ date: '2026-10-01', from: october.from, to: october.from + 24 * HOUR });
    expect(days.at(-1)!.to).toBe(october.to);
    // Berlin moves to summer time on 29 March 2026: March is an hour short of 31 days.
    const march = monthPeriod(2026, 3, 'Europe/Berlin');
    expect(march).toEqual({ from: Date.parse('2026-02-28T23:00:00Z'), to: Date.parse('2026-03-31T22:00:00Z') });
    expect(localDays(march.from, march.to, 'Europe/Berlin').find((d) => d.date === '2026-03-29')).toMatchObject({ from: Date.parse('2026-03-28T23:00:00Z'), to: Date.parse('2026-03-29T22:00:00Z') });
    expect(zonedInstant(Date.UTC(2026, 6, 1, 2, 30), 'Europe/Berlin')).toBe(Date.parse('2026-07-01T00:30:00Z'));
  });

  it('takes maintenance out of both the period and the downtime, merging overlapping outages and windows', () => {
    const day = { from: ist('2026-10-05T00:00'), to: ist('2026-10-06T00:00') };
    const figures = availability({
      ...day,
      outages: [
        { start: ist('2026-10-05T01:00'), end: ist('2026-10-05T03:00') },
        // Overlaps the first: 01:00–04:00 is 3 h, not 5.
        { start: ist('2026-10-05T02:00'), end: ist('2026-10-05T04:00') },
        { start: ist('2026-10-05T10:00'), end: ist('2026-10-05T10:30') },
      ],
      maintenance: [
        { from: ist('2026-10-05T03:00'), to: ist('2026-10-05T05:00') },
        { from: ist('2026-10-05T04:00'), to: ist('2026-10-05T06:00') },
      ],
    });
    // Down 01:00–03:00 unplanned (the 03:00–04:00 part is in the window), and 10:00–10:30.
    expect(figures).toEqual({ totalMs: 24 * HOUR, excludedMs: 3 * HOUR, downMs: 2.5 * HOUR, longestMs: 2 * HOUR, availabilityPct: ((21 - 2.5) / 21) * 100 });
    expect(mergeIntervals([{ from: 5, to: 7 }, { from: 1, to: 3 }, { from: 3, to: 4 }, { from: 9, to: 9 }])).toEqual([{ from: 1, to: 4 }, { from: 5, to: 7 }]);
  });

  it('splits an outage across the month boundary at Istanbul midnight, not UTC midnight', () => {
    const outage = { start: ist('2026-09-30T22:00'), end: ist('2026-10-01T02:00') };
    const september = monthPeriod(2026, 9, TZ);
    expect(availability({ outages: [outage], ...september, maintenance: [] }).downMs).toBe(2 * HOUR);
    expect(availability({ outages: [outage], ...october, maintenance: [] }).downMs).toBe(2 * HOUR);
  });

  it('is 0 % for a target down the whole month, 100 % for one never down, none when the month was all maintenance', () => {
    const open = { start: ist('2026-09-15T00:00'), end: null };
    expect(availability({ outages: [open], ...october, maintenance: [] })).toMatchObject({ availabilityPct: 0, downMs: october.to - october.from, longestMs: october.to - october.from });
    expect(availability({ outages: [], ...october, maintenance: [] })).toMatchObject({ availabilityPct: 100, downMs: 0, longestMs: 0 });
    expect(availability({ outages: [open], ...october, maintenance: [october] })).toMatchObject({ availabilityPct: null, downMs: 0 });
  });

  it('expands weekly windows in local time, including one running past midnight into the month', () => {
    const sundays = expandRecurring([parseEvery('sun 02:00-04:00')!], october.from, october.to, TZ);
    expect(sundays).toEqual(['04', '11', '18', '25'].map((d) => ({ from: ist(`2026-10-${d}T02:00`), to: ist(`2026-10-${d}T04:00`) })));
    // 1 November 2026 is a Sunday: Saturday 31 October's 23:00–01:00 window gives November its first hour.
    const november = monthPeriod(2026, 11, TZ);
    const nights = expandRecurring([parseEvery('sat 23:00-01:00')!], november.from, november.to, TZ);
    expect(nights[0]).toEqual({ from: november.from, to: ist('2026-11-01T01:00') });
    expect(nights).toHaveLength(5);
    expect(expandRecurring([{ kind: 'once', from: Date.UTC(2026, 9, 14, 22, 0), to: Date.UTC(2026, 9, 15, 2, 0) }], october.from, october.to, TZ)).toEqual([{ from: ist('2026-10-14T22:00'), to: ist('2026-10-15T02:00') }]);
  });

  it('counts a site down only while all its lines are down, or any service when it has no line; planned when every down target is in its window', () => {
    const day = { from: ist('2026-10-07T00:00'), to: ist('2026-10-08T00:00') };
    const a = { kind: 'link', outages: [{ start: ist('2026-10-07T01:00'), end: ist('2026-10-07T05:00') }], maintenance: [{ from: ist('2026-10-07T01:00'), to: ist('2026-10-07T03:00') }] };
    const b = { kind: 'link', outages: [{ start: ist('2026-10-07T02:00'), end: ist('2026-10-07T04:00') }], maintenance: [] };
    const web = { kind: 'service', outages: [{ start: ist('2026-10-07T12:00'), end: ist('2026-10-07T13:00') }], maintenance: [] };
    // Both lines down 02:00–04:00: line A's planned work does not excuse line B's failure.
    expect(siteAvailability({ members: [a, b, web], ...day, maintenance: [] })).toMatchObject({ basis: 'links', downMs: 2 * HOUR, excludedMs: 0 });
    // Both lines in their windows 02:00–03:00: that hour is planned.
    const bPlanned = { ...b, maintenance: [{ from: ist('2026-10-07T02:00'), to: ist('2026-10-07T03:00') }] };
    expect(siteAvailability({ members: [a, bPlanned, web], ...day, maintenance: [] })).toMatchObject({ downMs: HOUR, excludedMs: HOUR });
    // A window naming the site covers everything.
    expect(siteAvailability({ members: [a, b], ...day, maintenance: [{ from: ist('2026-10-07T00:00'), to: ist('2026-10-07T03:30') }] })).toMatchObject({ downMs: 0.5 * HOUR, excludedMs: 3.5 * HOUR });
    // No line: any service down is the site down.
    const mail = { kind: 'service', outages: [{ start: ist('2026-10-07T12:30'), end: ist('2026-10-07T14:00') }], maintenance: [] };
    expect(siteAvailability({ members: [web, mail], ...day, maintenance: [] })).toMatchObject({ basis: 'services', downMs: 2 * HOUR, longestMs: 2 * HOUR });
    expect(siteAvailability({ members: [{ kind: 'ups', outages: [], maintenance: [] }], ...day, maintenance: [] })).toBeNull();
  });
});

// ── A scripted month (October 2026), through the registry into the outage log, reported by the CLI ──

interface Scripted {
  site: string;
  device: string;
  kind: string;
  start: string;
  end: string | null;
  reason?: string;
}

const HOSTILE_REASON = '=HYPERLINK("http://x");<script>alert(1)</script>';

const SCRIPT: Scripted[] = [
  // Across the month's start; overlaps the other line's outage 01:00–02:00 (the site down an hour).
  { site: 'merkez', device: 'hat-ttnet', kind: 'link', start: '2026-09-30T22:00', end: '2026-10-01T02:00' },
  { site: 'merkez', device: 'hat-superonline', kind: 'link', start: '2026-10-01T01:00', end: '2026-10-01T03:00' },
  // Sunday: the weekly window 02:00–04:00 covers part of both lines' outages.
  { site: 'merkez', device: 'hat-ttnet', kind: 'link', start: '2026-10-04T01:30', end: '2026-10-04T05:00' },
  { site: 'merkez', device: 'hat-superonline', kind: 'link', start: '2026-10-04T03:00', end: '2026-10-04T04:30' },
  // Planned work on one line (its own window) while the other fails: the site's outage counts.
  { site: 'merkez', device: 'hat-ttnet', kind: 'link', start: '2026-10-14T23:00', end: '2026-10-15T01:00' },
  { site: 'merkez', device: 'hat-superonline', kind: 'link', start: '2026-10-15T00:00', end: '2026-10-15T00:30' },
  { site: 'merkez', device: 'web', kind: 'service', start: '2026-10-12T12:00', end: '2026-10-12T12:07', reason: HOSTILE_REASON },
  // Across the month's end.
  { site: 'merkez', device: 'web', kind: 'service', start: '2026-10-31T23:30', end: '2026-11-01T00:45' },
  // Power cut: the UPS goes on battery at 10:00 (alert store), the switch is seen down at 10:02.
  { site: 'merkez', device: 'sw1', kind: 'switch', start: '2026-10-20T10:02', end: '2026-10-20T10:40' },
  // A workstation switched off for the night: not in the report.
  { site: 'merkez', device: 'pc-01', kind: 'pc', start: '2026-10-05T18:00', end: '2026-10-06T08:00' },
  // zabita depends on merkez/sw1: link; an ordinary failure; one wholly inside an ad-hoc window.
  { site: 'zabita', device: 'eposta', kind: 'service', start: '2026-10-20T10:05', end: '2026-10-20T10:35' },
  { site: 'zabita', device: 'eposta', kind: 'service', start: '2026-10-10T09:00', end: '2026-10-10T09:20' },
  { site: 'zabita', device: 'eposta', kind: 'service', start: '2026-10-25T02:00', end: '2026-10-25T03:00' },
  // A site with neither line nor service: its camera never comes back.
  { site: 'depo', device: 'kamera1', kind: 'camera', start: '2026-10-28T12:00', end: null },
];

/** Six more outages of the web service at seeded random minutes, one after the other. */
function randomWebOutages(): Scripted[] {
  const random = mulberry32(20261029);
  const out: Scripted[] = [];
  let cursor = ist('2026-10-02T00:00');
  for (let i = 0; i < 6; i++) {
    const start = cursor + Math.floor(random() * 3 * 24 * 60) * MIN;
    const end = start + (1 + Math.floor(random() * 90)) * MIN;
    const local = (t: number) => new Date(t + 3 * HOUR).toISOString().slice(0, 16);
    out.push({ site: 'merkez', device: 'web', kind: 'service', start: local(start), end: local(end) });
    cursor = end + HOUR;
  }
  return out;
}

const MONTH_FROM = Date.parse('2026-09-30T21:00:00Z');
const MONTH_MINUTES = 31 * 24 * 60;
const FILE_WINDOW = { from: ist('2026-10-14T22:00'), to: ist('2026-10-15T02:00') };
const AD_HOC = { from: ist('2026-10-25T01:00'), to: ist('2026-10-25T05:00') };

/** The expected figures, minute by minute, straight from the definitions (fixed UTC+3, no shared code). */
function expectedFigures(script: readonly Scripted[]) {
  const spans = (site: string, device: string) => script.filter((s) => s.site === site && s.device === device).map((s) => ({ from: ist(s.start), to: s.end === null ? Infinity : ist(s.end) }));
  const within = (list: { from: number; to: number }[], t: number) => list.some((i) => t >= i.from && t < i.to);
  const minutes = Array.from({ length: MONTH_MINUTES }, (_, i) => MONTH_FROM + i * MIN);
  const siteWindow = (site: string, t: number) => {
    const wall = new Date(t + 3 * HOUR);
    if (site === 'merkez') return wall.getUTCDay() === 0 && wall.getUTCHours() >= 2 && wall.getUTCHours() < 4;
    return site === 'zabita' && t >= AD_HOC.from && t < AD_HOC.to;
  };
  const planned = (site: string, device: string, t: number) => siteWindow(site, t) || (device === 'hat-ttnet' && t >= FILE_WINDOW.from && t < FILE_WINDOW.to);

  const figures = (state: (t: number) => 'up' | 'down' | 'planned', outageSpans: { from: number; to: number }[]) => {
    let [measured, down, excluded, longest, run] = [0, 0, 0, 0, 0];
    const perDay = new Map<string, number>();
    for (const t of minutes) {
      const s = state(t);
      if (s === 'planned') excluded++;
      else measured++;
      if (s === 'down') {
        down++;
        const day = new Date(t + 3 * HOUR).toISOString().slice(0, 10);
        perDay.set(day, (perDay.get(day) ?? 0) + 1);
      }
      run = s === 'down' ? run + 1 : 0;
      longest = Math.max(longest, run);
    }
    const counted = outageSpans.filter((o) => minutes.some((t) => t >= o.from && t < o.to && state(t) === 'down')).length;
    return { measured, down, excluded, longest, pct: (100 * (measured - down)) / measured, outages: counted, perDay };
  };

  const target = (site: string, device: string) => {
    const own = spans(site, device);
    return figures((t) => (planned(site, device, t) ? 'planned' : within(own, t) ? 'down' : 'up'), own);
  };
  const ttnet = spans('merkez', 'hat-ttnet');
  const superonline = spans('merkez', 'hat-superonline');
  const merkez = figures((t) => {
    if (siteWindow('merkez', t)) return 'planned';
    if (!(within(ttnet, t) && within(superonline, t))) return 'up';
    // Both lines down: planned only if both are in their own windows (only ttnet has one).
    return planned('merkez', 'hat-ttnet', t) && planned('merkez', 'hat-superonline', t) ? 'planned' : 'down';
  }, []);
  const eposta = spans('zabita', 'eposta');
  const zabita = figures((t) => (siteWindow('zabita', t) ? 'planned' : within(eposta, t) ? 'down' : 'up'), []);
  return { target, merkez, zabita };
}

/** RFC 4180 with ";": quoted fields may hold separators, quotes and line breaks. */
function parseCsv(text: string): string[][] {
  expect(text.startsWith('\uFEFF')).toBe(true);
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  const body = text.slice(1);
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (quoted) {
      if (c === '"' && body[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ';') row.push(field), (field = '');
    else if (c === '\r' && body[i + 1] === '\n') {
      row.push(field), rows.push(row), (row = []), (field = ''), i++;
    } else field += c;
  }
  expect(row).toEqual([]);
  return rows;
}

const trNumber = (text: string) => Number(text.replace(',', '.'));
const trMinutes = (n: number) => n.toFixed(2).replace('.', ',');

describe('monthly report', () => {
  const script = [...SCRIPT, ...randomWebOutages()];
  const expected = expectedFigures(script);
  let dir: string;
  const paths = { outages: '', config: '', notify: '' };

  const report = async (...args: string[]) => {
    try {
      const { stdout, stderr } = await run(process.execPath, ['--disable-warning=ExperimentalWarning', 'collector/report.ts', ...args], { encoding: 'utf8' });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code?: number; stdout?: string; stderr?: string };
      return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? String(error) };
    }
  };

  beforeAll(() => {
    dir = tempDir('uptime-report');
    paths.outages = join(dir, 'uptime.sqlite');
    const registryPath = join(dir, 'registry.sqlite');
    const alertsPath = join(dir, 'alerts.sqlite');
    // The collector's wiring: every registry transition goes into the outage log.
    const registry = DeviceRegistry.open(registryPath);
    const log = OutageLog.open(paths.outages);
    const devices = new Map(script.map((s) => [`${s.site}/${s.device}`, s]));
    const events = [
      ...[...devices.values()].map((s) => ({ ...s, at: ist('2026-09-01T00:00'), online: true })),
      ...script.flatMap((s) => [{ ...s, at: ist(s.start), online: false }, ...(s.end === null ? [] : [{ ...s, at: ist(s.end), online: true }])]),
    ].sort((a, b) => a.at - b.at);
    for (const e of events) {
      const address = { site: e.site, device: e.device };
      const change = registry.recordState(address, { v: 1, ts: e.at, state: e.online ? 'online' : 'offline', kind: e.kind as never, reason: e.reason ?? 'timeout' }, e.at);
      if (change) log.record(change);
    }
    // A device the registry knows that never went down: 100 %.
    registry.recordState({ site: 'merkez', device: 'nas' }, { v: 1, ts: ist('2026-09-01T00:00'), state: 'online', kind: 'server' }, ist('2026-09-01T00:00'));
    registry.close();
    log.close();

    const alerts = AlertStore.open(alertsPath);
    const rule = loadRules().find((r) => r.id === 'ups_on_battery')!;
    const labels = { site: 'merkez', device: 'ups1', kind: 'ups', instance: '' };
    const since = ist('2026-10-20T10:00');
    const change = (to: AlertChange['to'], at: number): AlertChange => ({ alert: { id: 'ups_on_battery|merkez|ups1|', rule: rule.id, labels, state: 'firing', since, firedAt: since, value: 1 }, to, at });
    alerts.apply(change('firing', since), rule);
    alerts.apply(change('resolved', ist('2026-10-20T10:30')), rule);
    alerts.addMaintenance({ id: 'mnt_0123456789ab', sites: ['zabita'], devices: [], from: AD_HOC.from, to: AD_HOC.to, reason: 'sunucu taşıma', createdBy: 'cli:test' });
    alerts.close();

    paths.notify = join(dir, 'notify.yaml');
    writeFileSync(
      paths.notify,
      stringify({
        timezone: TZ,
        channels: { eposta: { type: 'email', host: '127.0.0.1', password: '${SMTP_PASSWORD}' } },
        contacts: [{ id: 'ahmet', name: 'Ahmet Yılmaz', email: 'ahmet@belediye.gov.tr' }],
        teams: [{ id: 'bilgi-islem', name: 'Bilgi İşlem', members: ['ahmet'] }],
        routes: [{ team: 'bilgi-islem', offHours: { channels: ['eposta'], to: 'team' } }],
        maintenance: [
          { id: 'pazar-bakim', sites: ['merkez'], every: 'sun 02:00-04:00', reason: 'haftalık bakım' },
          { id: 'ttnet-calisma', devices: ['merkez/hat-ttnet'], from: '2026-10-14T22:00', to: '2026-10-15T02:00', reason: 'Türk Telekom fiber çalışması' },
        ],
        dependencies: [{ site: 'zabita', upstream: ['merkez/sw1'] }],
      }),
    );
    paths.config = join(dir, 'collector.yaml');
    writeFileSync(paths.config, stringify({ registry: { path: registryPath }, alerts: { path: alertsPath, notifyFile: paths.notify }, language: 'tr' }));
  });

  it('writes the HTML and CSV files whose figures match the minute-by-minute count, in Turkish', async () => {
    const out = join(dir, 'tr');
    const result = await report('--config', paths.config, '--month', '2026-10', '--outages', paths.outages, '--out', out);
    expect(result, result.stderr).toMatchObject({ code: 0 });
    expect(result.stdout.trim().split('\n')).toEqual(['rapor-2026-10.html', 'erisilebilirlik-2026-10.csv', 'kesintiler-2026-10.csv'].map((f) => join(out, f)));

    const rows = parseCsv(readFileSync(join(out, 'erisilebilirlik-2026-10.csv'), 'utf8'));
    expect(rows[0]).toEqual(['Kapsam', 'Yerleşke', 'Hedef', 'Tür', 'Dönem', 'Süre (dk)', 'Planlı bakım (dk)', 'Kesinti (dk)', 'Erişilebilirlik (%)', 'Kesinti sayısı', 'En uzun kesinti (dk)']);
    const month = (scope: string, site: string, target = '') => rows.find((r) => r[0] === scope && r[1] === site && r[2] === target && r[4] === 'Ekim 2026');
    const check = (row: string[] | undefined, want: { excluded: number; down: number; longest: number; pct: number; outages?: number }, label: string) => {
      expect(row, label).toBeDefined();
      const [, , , , , total, excluded, down, pct, outages, longest] = row!;
      expect({ label, total, excluded, down, longest }).toEqual({ label, total: trMinutes(MONTH_MINUTES), excluded: trMinutes(want.excluded), down: trMinutes(want.down), longest: trMinutes(want.longest) });
      if (want.outages !== undefined) expect(outages, label).toBe(String(want.outages));
      expect(Math.abs(trNumber(pct!) - want.pct), `${label}: ${pct} vs ${want.pct}`).toBeLessThanOrEqual(0.001);
      expect(trNumber(pct!)).toBeLessThanOrEqual(want.pct);
    };
    for (const [site, device] of [['merkez', 'hat-ttnet'], ['merkez', 'hat-superonline'], ['merkez', 'web'], ['merkez', 'sw1'], ['merkez', 'nas'], ['zabita', 'eposta'], ['depo', 'kamera1']] as const) {
      check(month('Hedef', site, device), expected.target(site, device), `${site}/${device}`);
    }
    // A site's outage count is its targets' (the independent count is per target).
    check(month('Yerleşke', 'merkez'), { ...expected.merkez, outages: undefined }, 'site merkez');
    check(month('Yerleşke', 'zabita'), { ...expected.zabita, outages: expected.target('zabita', 'eposta').outages }, 'site zabita');
    // Sanity of the scripted month itself: these are the cases the script was written for.
    expect(expected.merkez.down).toBe(60 + 30 + 30);
    expect(expected.target('merkez', 'hat-ttnet').down).toBe(120 + 30 + 60);
    expect(expected.target('zabita', 'eposta').outages).toBe(2);
    expect(expected.target('merkez', 'nas')).toMatchObject({ down: 0, pct: 100 });
    // A site without line or service has no figure (its camera's outage is still counted).
    expect(month('Yerleşke', 'depo')!.slice(5)).toEqual(['', '', '', '', '1', '']);
    expect(rows.some((r) => r[2] === 'pc-01')).toBe(false);

    // Whole department: the sites' measured time summed.
    const measured = expected.merkez.measured + expected.zabita.measured;
    const down = expected.merkez.down + expected.zabita.down;
    const department = month('Daire', '')!;
    expect(department[7]).toBe(trMinutes(down));
    expect(Math.abs(trNumber(department[8]!) - (100 * (measured - down)) / measured)).toBeLessThanOrEqual(0.001);

    // Days: the site's downtime per Istanbul day.
    const merkezDays = rows.filter((r) => r[0] === 'Yerleşke' && r[1] === 'merkez' && r[4] !== 'Ekim 2026');
    expect(merkezDays).toHaveLength(31);
    for (const r of merkezDays) {
      const iso = r[4]!.split('.').reverse().join('-');
      expect({ day: r[4], down: r[7] }).toEqual({ day: r[4], down: trMinutes(expected.merkez.perDay.get(iso) ?? 0) });
    }
    const webDay = rows.find((r) => r[2] === 'web' && r[4] === '31.10.2026')!;
    expect(webDay[7]).toBe(trMinutes(30));

    const outages = parseCsv(readFileSync(join(out, 'kesintiler-2026-10.csv'), 'utf8'));
    expect(outages[0]).toEqual(['Yerleşke', 'Hedef', 'Tür', 'Başlangıç', 'Bitiş', 'Süre (dk)', 'Sayılan (dk)', 'Neden', 'Açıklama']);
    const outage = (device: string, start: string) => outages.find((r) => r[1] === device && r[3] === start);
    expect(outage('sw1', '20.10.2026 10:02')).toEqual(['merkez', 'sw1', 'switch', '20.10.2026 10:02', '20.10.2026 10:40', '38,00', '38,00', 'Elektrik (UPS)', 'timeout']);
    expect(outage('eposta', '20.10.2026 10:05')?.[7]).toBe('Hat');
    expect(outage('eposta', '10.10.2026 09:00')?.[7]).toBe('Cihaz');
    // Wholly in the ad-hoc window: listed, nothing counted.
    expect(outage('eposta', '25.10.2026 02:00')?.slice(5, 7)).toEqual(['60,00', '0,00']);
    expect(outage('hat-ttnet', '30.09.2026 22:00')?.slice(4, 8)).toEqual(['01.10.2026 02:00', '240,00', '120,00', 'Hat']);
    expect(outage('kamera1', '28.10.2026 12:00')?.[4]).toBe('sürüyor');
    // A device's reason cannot become an Excel formula.
    expect(outage('web', '12.10.2026 12:00')?.[8]).toBe(`'${HOSTILE_REASON}`);
    expect(outages.some((r) => r[1] === 'pc-01')).toBe(false);

    const html = readFileSync(join(out, 'rapor-2026-10.html'), 'utf8');
    expect(html).toContain('<html lang="tr">');
    for (const heading of ['Erişilebilirlik Raporu — Ekim 2026', 'Daire geneli', 'Yerleşke: merkez', 'İnternet hatları', 'Günlük erişilebilirlik', 'Kesintiler', 'Yedeklemeler', 'Tanımlar']) expect(html).toContain(heading);
    expect(html).toContain('Dönem: 01.10.2026 00:00 – 01.11.2026 00:00 (Europe/Istanbul)');
    expect(html).toContain(`<strong>%${(Math.floor(expected.merkez.pct * 1000) / 1000).toFixed(3).replace('.', ',')}</strong>`);
    expect(html).toContain('<td>20.10.2026 10:02</td><td>20.10.2026 10:40</td><td class="num">38 dk</td><td class="num">38 dk</td><td>Elektrik (UPS)</td>');
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    // No backup rows yet: the section is there with a dash.
    expect(html).toMatch(/id="yedeklemeler">\n<h2>Yedeklemeler<\/h2>[\s\S]*?<td>—<\/td>/);
  });

  it('writes English files with English headings and decimal points; one site alone has no department summary', async () => {
    const out = join(dir, 'en');
    const result = await report('--month', '2026-10', '--outages', paths.outages, '--notify', paths.notify, '--lang', 'en', '--site', 'zabita', '--out', out);
    expect(result, result.stderr).toMatchObject({ code: 0 });
    const html = readFileSync(join(out, 'report-2026-10-zabita.html'), 'utf8');
    for (const heading of ['Availability Report — October 2026 — zabita', 'Site: zabita', 'Outages', 'Backups', 'Definitions']) expect(html).toContain(heading);
    expect(html).not.toContain('class="department"');
    expect(html).not.toContain('merkez');
    const rows = parseCsv(readFileSync(join(out, 'availability-2026-10-zabita.csv'), 'utf8'));
    expect(rows[0]![8]).toBe('Availability (%)');
    // Without --config the ad-hoc window (alert store) is unknown: the 02:00 outage counts.
    const site = rows.find((r) => r[0] === 'Site' && r[4] === 'October 2026')!;
    expect(site[7]).toBe((expected.zabita.down + 60).toFixed(2));
    const outages = parseCsv(readFileSync(join(out, 'outages-2026-10-zabita.csv'), 'utf8'));
    expect(outages.find((r) => r[3] === '2026-10-20 10:05')?.[7]).toBe('Link');
  });

  it('refuses bad arguments with exit 2 and a message naming the argument', async () => {
    const base = ['--outages', paths.outages, '--out', join(dir, 'bad')];
    const cases: [string[], RegExp][] = [
      [['--month', '2026-13', ...base], /^--month: expected a month like "2026-11", got "2026-13"/],
      [['--month', '2099-01', ...base], /^--month: 2099-01 has not begun/],
      [['--out', join(dir, 'bad')], /^--month: required/],
      [['--month', '2026-10', '--out', join(dir, 'bad')], /^--outages: required/],
      [['--month', '2026-10', ...base, '--lang', 'de'], /^--lang: expected tr or en/],
      [['--month', '2026-10', ...base, '--site', 'Zabıta'], /^--site: expected a site id/],
      [['--month', '2026-10', ...base, '--kinds', 'link,toaster'], /^--kinds: expected device kinds/],
      [['--month', '2026-10', ...base, '--site', 'itfaiye'], /^--site: no target of site "itfaiye" in the outage log/],
      [['--month', '2026-10', ...base, '--colour', 'red'], /Unknown option '--colour'/],
      [['--month', '2026-10', '--outages', join(dir, 'none.sqlite'), '--out', join(dir, 'bad')], /^--outages: no such file/],
      [['--month', '2026-10', '--outages', paths.notify, '--out', join(dir, 'bad')], /^--outages: file is not a database/],
      [['--month', '2026-10', ...base, '--notify', paths.config], /^--notify: invalid configuration in .*collector\.yaml:\n {2}contacts: /],
    ];
    for (const [args, message] of cases) {
      const result = await report(...args);
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
      expect(result.stderr).toMatch(message);
      expect(result.stderr).toContain('usage: node collector/report.ts');
    }
  });

  it('measures a running month until now, and shows backup rows when there are some', () => {
    const log = OutageLog.open(':memory:');
    const now = ist('2026-11-15T12:00');
    log.record(transition({ device: 'hat-1', kind: 'link', at: ist('2026-11-15T06:00') }));
    const november = monthPeriod(2026, 11, TZ);
    const input: ReportInput = { month: { year: 2026, month: 11 }, period: november, timezone: TZ, now, targets: log.targets(), outages: log.outages(november), maintenance: [], causes: { alerts: [], dependencies: [] } };
    const backups = {
      jobs: [{ job: 'ebys-veritabani', site: 'merkez', description: 'EBYS veritabanı', succeeded: 14, failed: 0, missed: 1, lastSuccess: ist('2026-11-15T03:00'), drillsPassed: 1, drillsFailed: 0, lastDrill: { at: ist('2026-11-10T10:00'), result: 'passed' as const } }],
      checks: [],
    };
    const built = buildMonthlyReport({ ...input, backups });
    expect(built.period.to).toBe(now);
    // 6 h down of the 14.5 days so far.
    expect(built.sites[0]!.figures).toMatchObject({ downMs: 6 * HOUR, totalMs: now - november.from });
    expect(built.sites[0]!.targets[0]!.days).toHaveLength(15);
    const html = renderHtml(built, { language: 'tr' });
    expect(html).toContain('<td>ebys-veritabani (EBYS veritabanı)</td><td>merkez</td><td class="num">14</td><td class="num">0</td><td class="num">1</td><td>15.11.2026 03:00</td><td>1 başarılı, 0 başarısız</td><td>10.11.2026 10:00 (başarılı)</td>');
    expect(html).toContain('<td>sürüyor</td><td class="num">6 sa</td>');
    expect(() => buildMonthlyReport({ ...input, now: november.from - 1 })).toThrow(/not begun/);
    log.close();
  });
});
