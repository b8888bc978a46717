import { z } from 'zod';
import { formatPath } from '../../src/contract/schemas.ts';
import type { PointSink } from '../ingest/ingest.ts';
import type { Point } from '../model/point.ts';

// Is a site (a unit, a building) up, degraded or down right now? From what the collector already
// receives:
//   - its `link` targets (probes of its internet lines, or of its devices over the link): up or
//     down from the registry's transitions (device_state) and from each probe's `ok`, packet
//     loss from `probe.loss_pct`;
//   - its fiber links: interfaces configured as `links: [{iface, to: <site>}]` on the FAR switch
//     (points tagged link=<site>), `interface.oper_up` and `optical.rx_dbm`;
//   - its `service` targets.
//
// down     all of its link targets are down; with no link target, all of its fiber links are
//          down; with neither, any service target is down (as the availability report counts a site,
//          collector/uptime/availability.ts);
// degraded not down, but a link target or fiber link is down, a fiber's receive power is below
//          rxLowDbm (−20 dBm: a gigabit LX link is failing there, docs/dashboards.md), a line
//          loses more than lossPct (10 %) of its pings, or a service target is down;
// up       otherwise. A site nothing is known of has no state.

const SITE_STATES = ['up', 'degraded', 'down'] as const;
export type SiteState = (typeof SITE_STATES)[number];

export interface SiteEvidence {
  links: readonly { up: boolean; lossPct?: number }[];
  /** operUp undefined: only the optical level is known. */
  fibers: readonly { operUp?: boolean; rxDbm?: number }[];
  services: readonly { up: boolean }[];
}

export interface SiteThresholds {
  rxLowDbm: number;
  lossPct: number;
}

export const DEFAULT_SITE_THRESHOLDS: SiteThresholds = { rxLowDbm: -20, lossPct: 10 };

export function judgeSite(e: SiteEvidence, t: SiteThresholds = DEFAULT_SITE_THRESHOLDS): SiteState | undefined {
  const fibers = e.fibers.filter((f) => f.operUp !== undefined);
  const known = e.fibers.some((f) => f.operUp !== undefined || f.rxDbm !== undefined);
  if (e.links.length === 0 && !known && e.services.length === 0) return undefined;
  const down = e.links.length > 0 ? e.links.every((l) => !l.up) : fibers.length > 0 ? fibers.every((f) => !f.operUp) : e.services.some((s) => !s.up);
  if (down) return 'down';
  const degraded =
    e.links.some((l) => !l.up || (l.lossPct !== undefined && l.lossPct > t.lossPct)) ||
    fibers.some((f) => !f.operUp) ||
    e.fibers.some((f) => f.rxDbm !== undefined && f.rxDbm < t.rxLowDbm) ||
    e.services.some((s) => !s.up);
  return degraded ? 'degraded' : 'up';
}

function siteStatePoint(site: string, state: SiteState, now: number): Point {
  return { measurement: 'site_state', tags: { site }, fields: { state, up: Number(state === 'up'), degraded: Number(state === 'degraded'), down: Number(state === 'down') }, time: now };
}

// ── The tracker: evidence kept from the point stream ──────────────────────────

const optionsSchema = z.strictObject({
  everyMs: z.number().int().min(1_000, 'at least 1000 ms').max(3_600_000, 'at most one hour').default(60_000),
  /** Fiber readings older than this are dropped: a switch no longer polled (or a link taken out of links:) says nothing. */
  staleMs: z.number().int().min(1_000, 'at least 1000 ms').default(15 * 60_000),
  rxLowDbm: z.number().min(-60, 'at least -60 dBm').max(10, 'at most 10 dBm').default(DEFAULT_SITE_THRESHOLDS.rxLowDbm),
  lossPct: z.number().min(0, 'a percentage, 0–100').max(100, 'a percentage, 0–100').default(DEFAULT_SITE_THRESHOLDS.lossPct),
  /** Targets already known at start (the registry's list): a target down before a restart sends no new transition. */
  seed: z.array(z.object({ site: z.string(), device: z.string(), kind: z.string(), online: z.boolean() })).default([]),
});
export type SiteTrackerOptions = z.input<typeof optionsSchema>;

interface Target {
  site: string;
  kind: 'link' | 'service';
  up: boolean;
  lossPct?: number;
}

interface Fiber {
  /** The site the link leads to (the tag), not the switch's own site. */
  site: string;
  operUp?: boolean;
  rxDbm?: number;
  seenAt: number;
}

const TARGET_KINDS = new Set(['link', 'service']);
/** The poller's offline reason for a device taken out of devices.yaml (collector/devices/poller.ts). */
const REMOVED_REASON = 'removed from the device list';
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Observes every accepted point batch and writes `site_state` points (tag site; fields state,
 * up, degraded, down) into the sink: for a site whose state changed, at once, and for every
 * site each `everyMs`.
 */
export class SiteStateTracker {
  private readonly sink: PointSink;
  private readonly options: z.output<typeof optionsSchema>;
  private readonly targets = new Map<string, Target>();
  private readonly fibers = new Map<string, Fiber>();
  private readonly last = new Map<string, SiteState>();
  private readonly timer: NodeJS.Timeout;

  constructor(sink: PointSink, options: SiteTrackerOptions = {}) {
    const parsed = optionsSchema.safeParse(options);
    if (!parsed.success) throw new Error(`site state options: ${parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('; ')}`);
    this.sink = sink;
    this.options = parsed.data;
    for (const t of this.options.seed) if (TARGET_KINDS.has(t.kind)) this.targets.set(`${t.site}/${t.device}`, { site: t.site, kind: t.kind as Target['kind'], up: t.online });
    this.timer = setInterval(() => this.emitAll(Date.now()), this.options.everyMs);
    this.timer.unref();
  }

  observe(points: readonly Point[]): void {
    const now = Date.now();
    const touched = new Set<string>();
    for (const point of points) {
      const site = this.take(point, now);
      if (site !== undefined) touched.add(site);
    }
    const changed: Point[] = [];
    for (const site of touched) {
      const state = this.state(site);
      if (state === undefined) this.last.delete(site);
      if (state === undefined || state === this.last.get(site)) continue;
      this.last.set(site, state);
      changed.push(siteStatePoint(site, state, now));
    }
    if (changed.length > 0) this.sink.enqueue(changed);
  }

  /** The state of one site now (undefined: nothing known of it). */
  state(site: string): SiteState | undefined {
    const links: Target[] = [];
    const services: Target[] = [];
    for (const t of this.targets.values()) if (t.site === site) (t.kind === 'link' ? links : services).push(t);
    const fibers = [...this.fibers.values()].filter((f) => f.site === site);
    return judgeSite({ links, fibers, services }, this.options);
  }

  close(): void {
    clearInterval(this.timer);
  }

  /** Takes what a point says; returns the site it concerns, if any. */
  private take(point: Point, now: number): string | undefined {
    const { site, device, kind, link, iface } = point.tags;
    if (point.measurement === 'interface' || point.measurement === 'optical') {
      if (!link || !site || !device || !iface) return undefined;
      const key = `${site}/${device}/${iface}`;
      const fiber = this.fibers.get(key) ?? { site: link, seenAt: now };
      fiber.site = link;
      fiber.seenAt = now;
      const { oper_up: operUp, rx_dbm: rxDbm } = point.fields;
      if (point.measurement === 'interface' && finite(operUp)) fiber.operUp = operUp === 1;
      if (point.measurement === 'optical' && finite(rxDbm)) fiber.rxDbm = rxDbm;
      this.fibers.set(key, fiber);
      return link;
    }
    if (point.measurement !== 'device_state' && point.measurement !== 'probe') return undefined;
    if (!site || !device) return undefined;
    const key = `${site}/${device}`;
    // A target taken out of the device list, or whose profile changed to another kind, is no longer one.
    if (!kind || !TARGET_KINDS.has(kind) || point.fields.reason === REMOVED_REASON) return this.targets.delete(key) ? site : undefined;
    const target = this.targets.get(key) ?? { site, kind: kind as Target['kind'], up: true };
    target.kind = kind as Target['kind'];
    const up = point.measurement === 'device_state' ? point.fields.online : point.fields.ok;
    if (finite(up)) target.up = up === 1;
    else if (!this.targets.has(key)) return undefined; // nothing said about a target not known yet
    if (point.measurement === 'probe' && finite(point.fields.loss_pct)) target.lossPct = point.fields.loss_pct;
    this.targets.set(key, target);
    return site;
  }

  private emitAll(now: number): void {
    for (const [key, fiber] of this.fibers) if (now - fiber.seenAt > this.options.staleMs) this.fibers.delete(key);
    const sites = new Set([...[...this.targets.values()].map((t) => t.site), ...[...this.fibers.values()].map((f) => f.site), ...this.last.keys()]);
    const points: Point[] = [];
    for (const site of sites) {
      const state = this.state(site);
      if (state === undefined) {
        this.last.delete(site);
        continue;
      }
      this.last.set(site, state);
      points.push(siteStatePoint(site, state, now));
    }
    if (points.length > 0) this.sink.enqueue(points);
  }
}
