import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { planDevices } from '../collector/devices/device-plan.ts';
import { DRIVERS } from '../collector/devices/drivers/index.ts';
import { devicesFileSchema } from '../collector/devices/inventory.ts';
import { tagLinks } from '../collector/devices/poll-messages.ts';
import { DevicePoller } from '../collector/devices/poller.ts';
import { loadProfiles } from '../collector/devices/profile-loader.ts';
import { createMessageSink } from '../collector/ingest/ingest.ts';
import { metricsToPoints, stateToPoint } from '../collector/ingest/map-points.ts';
import type { Point } from '../collector/model/point.ts';
import { DeviceRegistry } from '../collector/registry/device-registry.ts';
import { judgeSite, SiteStateTracker, type SiteEvidence } from '../collector/uptime/site-state.ts';
import type { Metric } from '../src/contract/schemas.ts';
import { createLogger } from '../src/log.ts';
import { waitFor } from './helpers/servers.ts';

// Site state (up / degraded / down): the pure judgement on plain evidence, the tracker on the
// points the collector's own mappings make (device states, probe metrics, interface and
// optical points tagged by the configured fiber links), and the whole path from real probes —
// the DevicePoller probing a loopback HTTP server and loopback ICMP — through ingest and the
// registry into the tracker.

const up = { up: true };
const down = { up: false };
const evidence = (e: Partial<SiteEvidence>): SiteEvidence => ({ links: [], fibers: [], services: [], ...e });

describe('judging a site', () => {
  it.each<[string, Partial<SiteEvidence>, string | undefined]>([
    ['nothing known', {}, undefined],
    ['both lines up', { links: [up, up] }, 'up'],
    ['one line of two down', { links: [up, down] }, 'degraded'],
    ['all lines down', { links: [down, down] }, 'down'],
    ['all lines down, its fiber still up (the lines decide)', { links: [down], fibers: [{ operUp: true }] }, 'down'],
    ['lines up, the fiber down', { links: [up], fibers: [{ operUp: false }] }, 'degraded'],
    ['a line losing 10.5 % of its pings', { links: [{ up: true, lossPct: 10.5 }] }, 'degraded'],
    ['a line losing exactly 10 %', { links: [{ up: true, lossPct: 10 }] }, 'up'],
    ['no line, the only fiber down', { fibers: [{ operUp: false, rxDbm: -40 }] }, 'down'],
    ['no line, one fiber of a ring down', { fibers: [{ operUp: false }, { operUp: true }] }, 'degraded'],
    ['no line, fiber up at −20.5 dBm', { fibers: [{ operUp: true, rxDbm: -20.5 }] }, 'degraded'],
    ['no line, fiber up at −20 dBm', { fibers: [{ operUp: true, rxDbm: -20 }] }, 'up'],
    ['only an optical level known, low', { fibers: [{ rxDbm: -25 }] }, 'degraded'],
    ['lines up, a service down', { links: [up], services: [down, up] }, 'degraded'],
    ['fiber up, a service down', { fibers: [{ operUp: true }], services: [down] }, 'degraded'],
    ['services only, one down (as the availability report counts it)', { services: [up, down] }, 'down'],
    ['services only, all up', { services: [up, up] }, 'up'],
  ])('%s → %s', (_what, e, expected) => {
    expect(judgeSite(evidence(e))).toBe(expected);
  });

  it('takes other thresholds', () => {
    expect(judgeSite(evidence({ fibers: [{ operUp: true, rxDbm: -18 }] }), { rxLowDbm: -17, lossPct: 10 })).toBe('degraded');
    expect(judgeSite(evidence({ links: [{ up: true, lossPct: 3 }] }), { rxLowDbm: -20, lossPct: 2 })).toBe('degraded');
  });
});

const trackers: SiteStateTracker[] = [];
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  trackers.splice(0).forEach((t) => t.close());
  for (const close of closers.splice(0).reverse()) await close();
});
function tracker(options: ConstructorParameters<typeof SiteStateTracker>[1] = {}): { tracker: SiteStateTracker; emitted: Point[] } {
  const emitted: Point[] = [];
  const t = new SiteStateTracker({ enqueue: (points) => (emitted.push(...points), true) }, options);
  trackers.push(t);
  return { tracker: t, emitted };
}
const states = (emitted: Point[], site: string) => emitted.filter((p) => p.tags.site === site).map((p) => p.fields.state);

/** The points the collector makes of one poll of the far switch with `links` configured. */
function switchPoll(metrics: Metric[], links = [{ iface: 'XGigabitEthernet0/0/1', to: 'itfaiye' }, { iface: 'XGigabitEthernet0/0/2', to: 'zabita' }]): Point[] {
  return metricsToPoints({ site: 'merkez', device: 'sw-omurga' }, 'switch', { v: 1, ts: Date.now(), metrics: tagLinks(metrics, links) });
}
const iface = (name: string, operUp: 0 | 1): Metric => ({ name: 'interface', tags: { iface: name }, fields: { oper_up: operUp, admin_up: 1 } });
const optical = (name: string, rxDbm: number): Metric => ({ name: 'optical', tags: { iface: name }, fields: { rx_dbm: rxDbm } });
const linkState = (site: string, device: string, online: boolean, reason = online ? 'birth' : 'unreachable: timeout') => stateToPoint({ site, device }, 'link', online, reason, Date.now());
const probe = (site: string, device: string, kind: string, fields: Record<string, number>) => metricsToPoints({ site, device }, kind, { v: 1, ts: Date.now(), metrics: [{ name: 'probe', fields }] });

describe('the site state tracker', () => {
  it('fiber links seen on the far switch: a cut is down for the site behind it, low light degrades it; only changes are written at once', () => {
    const { tracker: t, emitted } = tracker();
    t.observe(switchPoll([iface('XGigabitEthernet0/0/1', 1), iface('XGigabitEthernet0/0/2', 1), iface('GigabitEthernet0/0/9', 0), optical('XGigabitEthernet0/0/1', -8.2)]));
    expect(emitted.map((p) => [p.tags.site, p.fields.state])).toEqual([
      ['itfaiye', 'up'],
      ['zabita', 'up'],
    ]);
    expect(emitted[0]).toMatchObject({ measurement: 'site_state', tags: { site: 'itfaiye' }, fields: { state: 'up', up: 1, degraded: 0, down: 0 } });
    // The same again: nothing new.
    t.observe(switchPoll([iface('XGigabitEthernet0/0/1', 1), iface('XGigabitEthernet0/0/2', 1)]));
    expect(emitted).toHaveLength(2);
    t.observe(switchPoll([optical('XGigabitEthernet0/0/1', -23.4)]));
    expect(emitted.at(-1)).toMatchObject({ tags: { site: 'itfaiye' }, fields: { state: 'degraded', up: 0, degraded: 1, down: 0 } });
    t.observe(switchPoll([iface('XGigabitEthernet0/0/1', 0)]));
    expect(emitted.at(-1)).toMatchObject({ tags: { site: 'itfaiye' }, fields: { state: 'down', down: 1 } });
    expect(states(emitted, 'zabita')).toEqual(['up']);
    // The switch's own site has no link tag on anything: it has no state from this.
    expect(t.state('merkez')).toBeUndefined();
  });

  it('internet lines: one down degrades, both down is down, heavy loss degrades; a service down degrades a site with lines', () => {
    const { tracker: t, emitted } = tracker();
    t.observe([linkState('kultur', 'hat-1', true), ...probe('kultur', 'hat-1', 'link', { ok: 1, loss_pct: 0 }), linkState('kultur', 'hat-2', true), ...probe('kultur', 'web', 'service', { ok: 1 })]);
    t.observe([linkState('kultur', 'hat-2', false)]);
    t.observe([linkState('kultur', 'hat-1', false)]);
    t.observe([linkState('kultur', 'hat-1', true, 'seen'), ...probe('kultur', 'hat-1', 'link', { ok: 1, loss_pct: 0 }), linkState('kultur', 'hat-2', true, 'seen')]);
    t.observe(probe('kultur', 'hat-2', 'link', { ok: 1, loss_pct: 35 }));
    t.observe(probe('kultur', 'hat-2', 'link', { ok: 1, loss_pct: 0 }));
    t.observe([stateToPoint({ site: 'kultur', device: 'web' }, 'service', false, 'unreachable: refused', Date.now())]);
    expect(states(emitted, 'kultur')).toEqual(['up', 'degraded', 'down', 'up', 'degraded', 'up', 'degraded']);
  });

  it('a site with services only is down while one is down, as the availability report counts it', () => {
    const { tracker: t, emitted } = tracker();
    t.observe([...probe('zabita', 'ebys', 'service', { ok: 1 }), ...probe('zabita', 'posta', 'service', { ok: 1 })]);
    t.observe([stateToPoint({ site: 'zabita', device: 'posta' }, 'service', false, 'unreachable: timeout', Date.now())]);
    expect(states(emitted, 'zabita')).toEqual(['up', 'down']);
  });

  it('writes every site again on its timer, drops fiber readings gone stale, and forgets targets taken out of the device list', async () => {
    const { tracker: t, emitted } = tracker({ everyMs: 1_000, staleMs: 1_500 });
    t.observe([...switchPoll([iface('XGigabitEthernet0/0/1', 0)]), linkState('kultur', 'hat-1', false)]);
    expect(emitted.map((p) => [p.tags.site, p.fields.state])).toEqual([
      ['itfaiye', 'down'],
      ['kultur', 'down'],
    ]);
    await waitFor('a timer round', async () => emitted.length >= 4, 3_000);
    expect(emitted.slice(2, 4).map((p) => [p.tags.site, p.fields.state]).sort()).toEqual([
      ['itfaiye', 'down'],
      ['kultur', 'down'],
    ]);
    // The switch is no longer polled: after staleMs the fiber says nothing, and the site has no state.
    await waitFor('the fiber forgotten', async () => t.state('itfaiye') === undefined, 4_000);
    const removed = stateToPoint({ site: 'kultur', device: 'hat-1' }, 'link', false, 'removed from the device list', Date.now());
    t.observe([removed]);
    expect(t.state('kultur')).toBeUndefined();
    const count = emitted.length;
    await new Promise((r) => setTimeout(r, 1_200));
    expect(emitted.slice(count)).toEqual([]);
  });

  it('starts from the registry: a line down before a restart is down without a new transition', () => {
    const { tracker: t, emitted } = tracker({
      seed: [
        { site: 'kultur', device: 'hat-1', kind: 'link', online: false },
        { site: 'kultur', device: 'hat-2', kind: 'link', online: true },
        { site: 'kultur', device: 'srv', kind: 'server', online: false },
      ],
    });
    expect(t.state('kultur')).toBe('degraded');
    t.observe(probe('kultur', 'hat-2', 'link', { ok: 1, loss_pct: 0 }));
    expect(states(emitted, 'kultur')).toEqual(['degraded']);
  });

  it('ignores nonsense without throwing: text or NaN values, missing tags, other kinds, a state for a target never seen', () => {
    const { tracker: t, emitted } = tracker();
    const bad: Point[] = [
      { measurement: 'interface', tags: { site: 'merkez', device: 'sw', iface: 'x', link: 'itfaiye' }, fields: { oper_up: 'up' }, time: Date.now() },
      { measurement: 'optical', tags: { site: 'merkez', device: 'sw', iface: 'x', link: 'itfaiye' }, fields: { rx_dbm: Number.NaN }, time: Date.now() },
      { measurement: 'interface', tags: { site: 'merkez', iface: 'x', link: 'itfaiye' }, fields: { oper_up: 0 }, time: Date.now() },
      { measurement: 'probe', tags: { device: 'hat-1', kind: 'link' }, fields: { ok: 1 }, time: Date.now() },
      { measurement: 'probe', tags: { site: 'kultur', device: 'hat-1', kind: 'link' }, fields: { latency_ms: 3 }, time: Date.now() },
      ...probe('kultur', 'srv', 'server', { ok: 1 }),
    ];
    expect(() => t.observe(bad)).not.toThrow();
    // The first two made a fiber entry with nothing known: no state, nothing written.
    expect(t.state('itfaiye')).toBeUndefined();
    expect(t.state('kultur')).toBeUndefined();
    expect(emitted).toEqual([]);
  });

  it('refuses bad options naming the option', () => {
    expect(() => new SiteStateTracker({ enqueue: () => true }, { everyMs: 5 })).toThrow('site state options: everyMs: at least 1000 ms');
    expect(() => new SiteStateTracker({ enqueue: () => true }, { lossPct: 120 })).toThrow('site state options: lossPct: a percentage, 0–100');
    expect(() => new SiteStateTracker({ enqueue: () => true }, { seed: [{ site: 'a', device: 'b', kind: 'link' }] as never })).toThrow(/^site state options: seed\[0\]\.online: /);
  });
});

describe('from real probes through ingest', () => {
  it('a site with a line and a web service: the service stopping degrades it; a services-only site is down; both recover', async () => {
    const web: Server = createServer((_req, res) => res.end('e-Belediye'));
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
    const { port } = web.address() as { port: number };
    closers.push(() => new Promise<void>((r) => (web.closeAllConnections(), web.close(() => r()))));

    const devices = [
      { site: 'kultur', id: 'hat-1', address: '127.0.0.1', profile: 'probe-icmp', intervalS: 1, timeoutMs: 300, options: { count: 1 } },
      { site: 'kultur', id: 'web', address: `http://127.0.0.1:${port}/`, profile: 'probe-http', intervalS: 1, timeoutMs: 500 },
      { site: 'zabita', id: 'ebys', address: `http://127.0.0.1:${port}/ebys`, profile: 'probe-http', intervalS: 1, timeoutMs: 500 },
    ];
    const { plans, errors } = planDevices({ devices: devicesFileSchema.parse({ devices }), secrets: {}, profiles: loadProfiles(), drivers: DRIVERS, defaultIntervalS: 60 });
    expect(errors).toEqual([]);
    const registry = DeviceRegistry.open(':memory:', { heartbeatTimeoutS: 60 });
    closers.push(() => registry.close());
    const { tracker: t, emitted } = tracker();
    const accept = createMessageSink({ registry, sink: { enqueue: (points) => (t.observe(points), true) }, observer: { accepted: () => {}, rejected: () => {}, transition: () => {} } });
    const poller = new DevicePoller({ drivers: DRIVERS, concurrency: 4, language: 'tr', deliver: accept, log: createLogger({ name: 'test', write: () => {} }) });
    closers.push(() => poller.close());
    poller.update(plans);

    await waitFor('both sites up', async () => t.state('kultur') === 'up' && t.state('zabita') === 'up', 10_000);
    await new Promise<void>((r) => (web.closeAllConnections(), web.close(() => r())));
    await waitFor('kultur degraded, zabita down', async () => t.state('kultur') === 'degraded' && t.state('zabita') === 'down', 10_000);
    await new Promise<void>((r) => web.listen(port, '127.0.0.1', r));
    await waitFor('both up again', async () => t.state('kultur') === 'up' && t.state('zabita') === 'up', 10_000);
    // Written on change only: the intermediate states, each once.
    expect(states(emitted, 'kultur')).toEqual(['up', 'degraded', 'up']);
    expect(states(emitted, 'zabita')).toEqual(['up', 'down', 'up']);
  });
});
