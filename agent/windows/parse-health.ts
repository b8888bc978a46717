import type { Metric } from '../../src/contract/schemas.ts';
import { batteryMetrics } from '../sources/battery.ts';
import type { Mount } from '../sources/fs.ts';
import { netMetrics, type IfaceCounters } from '../sources/net.ts';
import { swapMetric } from '../sources/swap.ts';
import { tempMetricsFromSi } from '../sources/temp.ts';
import { round } from '../sources/types.ts';
import { HEALTH_SECTIONS } from './health-script.ts';

// Pure: the health script's JSON (agent/windows/health-script.ts) → metrics. Whatever arrives
// (a section missing, a field of another type, PowerShell 5.1's {"value":[…],"Count":n} arrays,
// dates as "\/Date(…)\/"), nothing here throws: an unusable value is left out, a failed section
// is counted in `win_health`, and the other sections still report.

const DAY_MS = 86_400_000;
const MIB = 1024 * 1024;
const TEXT_MAX = 256;

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {});
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
const text = (s: string) => (s.length <= TEXT_MAX ? s : `${s.slice(0, TEXT_MAX - 1)}…`);
const flag = (b: boolean) => (b ? 1 : 0);

/** An array as PowerShell may print it: a JSON array, 5.1's {"value":[…]} wrapper, the element alone for a one-element array, or nothing. */
function list(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (v === null || v === undefined) return [];
  const wrapped = obj(v).value;
  if (Array.isArray(wrapped)) return wrapped;
  return [v];
}

/** A section that is a list, or undefined when it failed or is absent (so callers keep "unknown" apart from "none"). */
function sectionList(v: unknown): unknown[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'object' && !Array.isArray(v) && typeof obj(v).error === 'string') return undefined;
  return list(v);
}

function sectionObject(v: unknown): Json | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || typeof obj(v).error === 'string') return undefined;
  return v as Json;
}

/** Milliseconds since the epoch from a number, "\/Date(1700000000000)\/" or ISO text. */
export function toMs(v: unknown): number | undefined {
  const n = num(v);
  if (n !== undefined) return n;
  if (typeof v !== 'string') return undefined;
  const dotnet = /^\/Date\((-?\d+)(?:[+-]\d{4})?\)\/$/.exec(v.trim());
  if (dotnet) return Number(dotnet[1]);
  const parsed = /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : Number.NaN;
  return Number.isFinite(parsed) ? parsed : undefined;
}

/**
 * Win32_QuickFixEngineering.InstalledOn as the CIM provider writes it: "11/14/2025" (month
 * first on every locale), "20251114", or on old systems a FILETIME in hex ("01d9f6a2c3b4e000").
 */
export function hotfixDateMs(v: unknown): number | undefined {
  const s = str(v);
  if (!s) return undefined;
  const us = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(s);
  if (us) return validDate(Number(us[3]), Number(us[1]), Number(us[2]));
  const compact = /^(\d{4})(\d{2})(\d{2})$/.exec(s);
  if (compact) return validDate(Number(compact[1]), Number(compact[2]), Number(compact[3]));
  if (/^[0-9a-f]{15,16}$/i.test(s)) {
    // FILETIME: 100 ns ticks since 1601-01-01.
    const ms = Number(BigInt(`0x${s}`) / 10_000n) - 11_644_473_600_000;
    return ms > Date.UTC(2000, 0, 1) ? ms : undefined;
  }
  return undefined;
}

function validDate(year: number, month: number, day: number): number | undefined {
  if (month < 1 || month > 12 || day < 1 || day > 31 || year < 2000) return undefined;
  return Date.UTC(year, month - 1, day);
}

// ── disks ────────────────────────────────────────────────────────────────────

const HEALTH_STATUS: Record<number, string> = { 0: 'healthy', 1: 'warning', 2: 'unhealthy', 5: 'unknown' };
// MSFT_PhysicalDisk.OperationalStatus (Storage Management API).
const OPERATIONAL_STATUS: Record<number, string> = {
  0: 'Unknown', 1: 'Other', 2: 'OK', 3: 'Degraded', 4: 'Stressed', 5: 'Predictive Failure', 6: 'Error', 7: 'Non-Recoverable Error',
  8: 'Starting', 9: 'Stopping', 10: 'Stopped', 11: 'In Service', 12: 'No Contact', 13: 'Lost Communication', 14: 'Aborted',
  15: 'Dormant', 16: 'Supporting Entity in Error', 17: 'Completed', 18: 'Power Mode',
  0xd010: 'In Maintenance', 0xd011: 'Not Usable', 0xd012: 'Transient Error', 0xd013: 'Failed Media', 0xd014: 'Incomplete', 0xd015: 'Starting', 0xd016: 'Stopped',
};
const PREDICTIVE_FAILURE = 5;

function diskMetrics(section: Json): Metric[] {
  const drives = list(section.drives).map(obj);
  const physical = list(section.physical).map(obj);
  const predictions = list(section.predict).map(obj);
  // Win32_DiskDrive.Index and MSFT_PhysicalDisk.DeviceId are the same number (PhysicalDriveN).
  const indexes = new Set<number>();
  for (const d of drives) if (num(d.index) !== undefined) indexes.add(num(d.index)!);
  for (const p of physical) if (num(p.id) !== undefined) indexes.add(num(p.id)!);
  return [...indexes].sort((a, b) => a - b).slice(0, 64).map((index) => {
    const drive = drives.find((d) => num(d.index) === index) ?? {};
    const disk = physical.find((p) => num(p.id) === index) ?? {};
    const pnp = str(drive.pnp)?.toLowerCase();
    // The driver's instance name is the PnP device id plus "_0".
    const prediction = pnp ? predictions.find((p) => str(p.instance)?.toLowerCase().startsWith(pnp)) : undefined;
    const status = str(drive.status);
    const health = num(disk.health);
    const operational = list(disk.operational).map(num).filter((n): n is number => n !== undefined);
    const reasons: string[] = [];
    if (status === 'Pred Fail') reasons.push('Win32_DiskDrive: Pred Fail');
    if (prediction?.predict === true) reasons.push(`driver failure prediction${num(prediction.reason) ? ` (reason ${num(prediction.reason)})` : ''}`);
    if (operational.includes(PREDICTIVE_FAILURE)) reasons.push('OperationalStatus: Predictive Failure');
    if (health === 2) reasons.push('HealthStatus: Unhealthy');

    const fields: Metric['fields'] = { predicted_failure: flag(reasons.length > 0) };
    if (reasons.length > 0) fields.failure_reason = text(reasons.join('; '));
    if (health !== undefined) fields.health = HEALTH_STATUS[health] ?? `code ${health}`;
    if (operational.length > 0) fields.operational = text(operational.map((c) => OPERATIONAL_STATUS[c] ?? `code ${c}`).join(', '));
    if (status) fields.status = text(status);
    const model = str(drive.model) ?? str(disk.name);
    if (model) fields.model = text(model);
    const counters: [string, unknown][] = [
      ['temperature_c', disk.temperature],
      ['wear_pct', disk.wear],
      ['read_errors_uncorrected', disk.readErrors],
      ['write_errors_uncorrected', disk.writeErrors],
      ['power_on_hours', disk.powerOnHours],
    ];
    for (const [key, value] of counters) {
      const n = num(value);
      // A temperature of 0 means the disk does not report one.
      if (n !== undefined && n >= 0 && !(key === 'temperature_c' && n === 0)) fields[key] = n;
    }
    return { name: 'win_disk', tags: { disk: `PhysicalDrive${index}` }, fields };
  });
}

// ── WHEA ─────────────────────────────────────────────────────────────────────

function wheaMetric(section: Json, now: number, bootMs: number | undefined): Metric {
  const events = list(section.events).map(obj);
  const times = events.map((e) => ({ t: toMs(e.t), level: num(e.level) }));
  const dayAgo = now - DAY_MS;
  const fields: Metric['fields'] = { errors_24h: times.filter((e) => e.t !== undefined && e.t >= dayAgo).length };
  if (bootMs !== undefined) {
    const sinceBoot = times.filter((e) => e.t !== undefined && e.t >= bootMs);
    fields.errors_since_boot = sinceBoot.length;
    // Level 1 critical, 2 error: uncorrected errors; 3 (warning) are corrected ones.
    fields.fatal_since_boot = sinceBoot.filter((e) => e.level === 1 || e.level === 2).length;
  }
  const max = num(section.max);
  // The script lists at most `max` events: the counts are then lower bounds.
  fields.capped = flag(max !== undefined && events.length >= max);
  return { name: 'win_whea', fields };
}

// ── services ─────────────────────────────────────────────────────────────────

function serviceMetrics(entries: unknown[], wanted: readonly string[]): Metric[] {
  const found = entries.map(obj);
  const same = (a: unknown, b: string) => typeof a === 'string' && a.toLowerCase() === b.toLowerCase();
  return wanted.slice(0, 64).map((name) => {
    const entry = found.find((s) => same(s.name, name)) ?? found.find((s) => same(s.display, name));
    const tags = { instance: name.slice(0, 128) };
    // A configured service this machine does not have is a fact to report, not a failure.
    if (!entry) return { name: 'win_service', tags, fields: { state: 'missing', missing: 1 } };
    const state = str(entry.state) ?? 'Unknown';
    const fields: Metric['fields'] = { state: text(state), running: flag(state === 'Running'), missing: 0 };
    const startMode = str(entry.startMode);
    if (startMode) fields.start_mode = text(startMode);
    const display = str(entry.display);
    if (display) fields.display_name = text(display);
    const exit = num(entry.exitCode);
    if (exit !== undefined && state !== 'Running') fields.exit_code = exit;
    return { name: 'win_service', tags, fields };
  });
}

// ── updates and pending reboot ───────────────────────────────────────────────

// Defender definition and platform updates and the malicious software removal tool arrive
// through Windows Update daily or monthly whether or not the system itself is patched: they
// would hide a machine whose updates stopped. KB numbers, because titles are translated.
const NOT_A_SYSTEM_UPDATE = /\bKB(2267602|2461484|915597|4052623|890830)\b/i;
const DEFINITION_UPDATES_CATEGORY = 'e0789628-ce08-4437-be74-2495b842f43b';

interface Install {
  at: number;
  title: string;
}

/** Pure: successful system updates from the Windows Update history, newest first. */
export function systemInstalls(section: Json | undefined): Install[] {
  if (!section) return [];
  return list(section.installs)
    .map(obj)
    .filter((e) => !NOT_A_SYSTEM_UPDATE.test(str(e.title) ?? '') && !list(e.cats).some((c) => typeof c === 'string' && c.toLowerCase() === DEFINITION_UPDATES_CATEGORY))
    .flatMap((e) => {
      const at = toMs(e.t);
      return at === undefined ? [] : [{ at, title: str(e.title) ?? '' }];
    })
    .sort((a, b) => b.at - a.at);
}

function updateFields(updates: Json | undefined, hotfixes: unknown[] | undefined, now: number): Metric['fields'] {
  const installs = systemInstalls(updates);
  const newest = installs[0];
  if (newest) return { days_since_update: round(Math.max(0, now - newest.at) / DAY_MS, 1), update_source: 'history', last_update: text(newest.title || 'unknown') };
  const fixes = (hotfixes ?? [])
    .map(obj)
    .flatMap((h) => {
      const at = hotfixDateMs(h.on);
      return at === undefined ? [] : [{ at, id: str(h.id) ?? '' }];
    })
    .sort((a, b) => b.at - a.at);
  const fix = fixes[0];
  if (fix) return { days_since_update: round(Math.max(0, now - fix.at) / DAY_MS, 1), update_source: 'hotfix', last_update: text(fix.id || 'unknown') };
  return {};
}

export interface RebootVerdict {
  fields: Metric['fields'];
  /** When the pending reboot started, as far as known; carried to the next round. */
  pendingSince: number | undefined;
}

/**
 * Pure: pending reboot and how long it has waited. Windows does not record when a reboot became
 * pending, so the age is a lower bound: the earlier of when this agent first saw it and the
 * oldest system update installed since the last boot (that update is what waits for the reboot).
 */
export function rebootVerdict(reboot: Json, installs: readonly Install[], bootMs: number | undefined, firstSeen: number | undefined, now: number): RebootVerdict {
  const reasons: string[] = [];
  if (reboot.cbs === true) reasons.push('component_servicing');
  if (reboot.windowsUpdate === true) reasons.push('windows_update');
  if ((num(reboot.fileRename) ?? (reboot.fileRename === true ? 1 : 0)) > 0) reasons.push('file_rename');
  if (reasons.length === 0) return { fields: { pending_reboot: 0, pending_reboot_days: 0 }, pendingSince: undefined };
  // Only an update-driven reboot is dated by the updates: a file rename may have come later.
  const updateDriven = reasons.includes('component_servicing') || reasons.includes('windows_update');
  const sinceBoot = bootMs === undefined || !updateDriven ? [] : installs.filter((i) => i.at > bootMs && i.at <= now);
  const oldest = sinceBoot.length > 0 ? Math.min(...sinceBoot.map((i) => i.at)) : undefined;
  const since = Math.min(firstSeen ?? now, oldest ?? now, now);
  return { fields: { pending_reboot: 1, pending_reboot_days: round((now - since) / DAY_MS, 1), pending_reason: reasons.join(',') }, pendingSince: since };
}

// ── Defender ─────────────────────────────────────────────────────────────────

function defenderMode(d: Json): string {
  const mode = str(d.mode)?.toLowerCase();
  if (mode === 'normal') return 'normal';
  if (mode?.includes('passive')) return 'passive';
  if (mode?.includes('edr')) return 'edr_block';
  if (mode?.includes('not running')) return 'not_running';
  if (mode) return mode.replace(/[^a-z0-9]+/g, '_').slice(0, 32);
  // Builds before AMRunningMode existed: the antivirus flag says whether Defender is the active one.
  return d.antivirus === true ? 'normal' : 'not_running';
}

/** Pure: Defender's state; "present" means Defender is this machine's active antivirus, otherwise its real-time flag means nothing and is reported as unknown. */
export function defenderMetric(defender: Json, antivirus: unknown[] | undefined, now: number): Metric {
  const others = (antivirus ?? [])
    .map((a) => str(obj(a).name))
    .filter((n): n is string => n !== undefined && !/defender/i.test(n));
  const fields: Metric['fields'] = {};
  if (defender.installed === false) fields.mode = 'absent';
  else if (typeof defender.statusError === 'string') fields.mode = 'not_running';
  else fields.mode = defenderMode(defender);
  const present = fields.mode === 'normal';
  fields.present = flag(present);
  fields.realtime = present && typeof defender.realtime === 'boolean' ? (defender.realtime ? 'on' : 'off') : 'unknown';
  if (fields.realtime !== 'unknown') fields.realtime_enabled = flag(fields.realtime === 'on');
  if (present) {
    const updated = toMs(defender.signatureMs);
    const age = num(defender.signatureAge) ?? (updated !== undefined ? Math.floor((now - updated) / DAY_MS) : undefined);
    if (age !== undefined && age >= 0) fields.signature_age_days = age;
  }
  if (others.length > 0) fields.other_av = text([...new Set(others)].join(', '));
  return { name: 'win_defender', fields };
}

// ── the families that replace systeminformation on Windows ───────────────────

/** Pure: Win32_LogicalDisk fixed drives → mounts for the fast cadence's statfs. */
export function drivesToMounts(entries: unknown[]): Mount[] {
  return entries.map(obj).flatMap((d) => {
    const id = str(d.id);
    if (!id || !/^[A-Za-z]:$/.test(id) || !((num(d.size) ?? 0) > 0)) return [];
    return [{ mount: id.toUpperCase(), path: `${id.toUpperCase()}\\`, fstype: (str(d.fs) ?? 'unknown').toLowerCase() }];
  });
}

export interface NetSnapshot {
  at: number;
  byIface: ReadonlyMap<string, IfaceCounters>;
}

/** Pure: Get-NetAdapter + Get-NetAdapterStatistics → counters; adapters without statistics (disabled) are left out. */
export function netCounters(section: Json): IfaceCounters[] {
  const adapters = list(section.adapters).map(obj);
  return list(section.stats)
    .map(obj)
    .flatMap((s) => {
      const name = str(s.name);
      if (!name) return [];
      const adapter = adapters.find((a) => a.name === name) ?? {};
      const speed = num(adapter.speed);
      const counter = (v: unknown) => Math.max(0, num(v) ?? 0);
      return [{
        iface: name,
        up: str(adapter.status)?.toLowerCase() === 'up',
        // Get-NetAdapter says bits per second; an adapter without a link reports 0 or 2^63-1.
        speedMbps: speed !== undefined && speed > 0 && speed < 1e12 ? round(speed / 1e6, 0) : null,
        rxBytes: counter(s.rxBytes),
        txBytes: counter(s.txBytes),
        rxErrors: counter(s.rxErrors),
        txErrors: counter(s.txErrors),
        rxDropped: counter(s.rxDropped),
        txDropped: counter(s.txDropped),
      }];
    });
}

function thermalMetrics(zones: unknown[]): Metric[] {
  // Tenths of kelvin, converted as systeminformation does, so the series continue as before.
  const celsius = zones.map((z) => num(obj(z).tenthsKelvin)).flatMap((t) => (t === undefined ? [] : [(t - 2732) / 10]));
  const valid = celsius.filter((c) => c > 0 && c < 150);
  return tempMetricsFromSi({ main: valid.length > 0 ? valid.reduce((a, b) => a + b, 0) / valid.length : null, cores: valid });
}

function batteryFrom(section: Json): Metric[] {
  const entries = list(section.list).map(obj);
  // The first battery with a meaningful status (10 = undefined), as systeminformation picks it.
  const i = entries.findIndex((b) => (num(b.status) ?? 0) > 0 && num(b.status) !== 10);
  const b = entries[i];
  if (!b) return [];
  const status = num(b.status)!;
  const percent = num(b.pct) ?? 0;
  const designed = num(list(section.designed)[i]) ?? num(b.design) ?? 0;
  const full = num(list(section.full)[i]) ?? designed;
  // Win32_Battery.BatteryStatus: 1 discharging, 2 on AC, 3 fully charged, 6–9 charging, 11 partially charged.
  const isCharging = (status >= 6 && status <= 9) || status === 11 || (status !== 3 && status !== 1 && percent < 100);
  return batteryMetrics({ hasBattery: true, percent, isCharging, acConnected: isCharging || status === 2, cycleCount: num(list(section.cycles)[i]) ?? 0, maxCapacity: full, designedCapacity: designed });
}

// ── the whole report ─────────────────────────────────────────────────────────

// Absent on many machines by design, so their failure is no news: most desktops have no ACPI
// thermal zone ("Not supported"), Windows Server has no Security Center namespace.
const OPTIONAL_SECTIONS = new Set<string>(['thermal', 'antivirus']);

export type ParsedOutput = { report: Json } | { error: string };

/** Pure: PowerShell's standard output → the report object, or why there is none. Never throws. */
export function parseHealthOutput(stdout: string): ParsedOutput {
  const trimmed = stdout.replace(/^\uFEFF/, '').trim();
  if (trimmed === '') return { error: 'the health script printed nothing' };
  const start = trimmed.indexOf('{');
  const end = trimmed.lastIndexOf('}');
  if (start < 0 || end < start) return { error: `the health script printed no JSON: ${JSON.stringify(trimmed.slice(0, 80))}` };
  let value: unknown;
  try {
    value = JSON.parse(trimmed.slice(start, end + 1));
  } catch (error) {
    return { error: `the health script printed invalid JSON (${(error as Error).message.slice(0, 80)}): ${JSON.stringify(trimmed.slice(0, 80))}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { error: 'the health script printed JSON that is not an object' };
  return { report: value as Json };
}

export interface HealthContext {
  /** The agent's clock (ms). */
  now: number;
  /** Configured services (agent.yaml windows.services). */
  services: readonly string[];
  /** Boot time from Node (os.uptime), used when the script's own is missing. */
  bootMs?: number;
  /** The previous round's network counters, for rates. */
  previousNet?: NetSnapshot;
  /** When this agent first saw the current pending reboot. */
  pendingSince?: number;
  /** How long PowerShell ran. */
  durationMs?: number;
}

export interface HealthResult {
  metrics: Metric[];
  /** Fixed drives for the fs source; undefined when the drive section failed (keep the last list). */
  drives: Mount[] | undefined;
  /** This round's network counters; undefined when the section failed. */
  net: NetSnapshot | undefined;
  pendingSince: number | undefined;
  /** "section: message" for every section that failed. */
  errors: string[];
}

/** Pure: the report → metrics and what the next round needs. Never throws on a malformed report. */
export function healthMetrics(report: unknown, ctx: HealthContext): HealthResult {
  const r = obj(report);
  const metrics: Metric[] = [];
  const errors: string[] = [];
  for (const section of HEALTH_SECTIONS) {
    const message = obj(r[section]).error;
    if (typeof message === 'string' && !OPTIONAL_SECTIONS.has(section)) errors.push(`${section}: ${message.trim() || 'failed'}`);
  }
  const bootMs = toMs(obj(r.os).bootMs) ?? ctx.bootMs;

  const driveList = sectionList(r.drives);
  const pagefiles = sectionList(r.pagefile);
  if (pagefiles) {
    const total = pagefiles.reduce<number>((sum, p) => sum + (num(obj(p).allocatedMb) ?? 0), 0);
    const used = pagefiles.reduce<number>((sum, p) => sum + (num(obj(p).usedMb) ?? 0), 0);
    metrics.push(swapMetric(total * MIB, used * MIB));
  }

  const netSection = sectionObject(r.net);
  let net: NetSnapshot | undefined;
  if (netSection) {
    const counters = netCounters(netSection);
    metrics.push(...netMetrics(counters, ctx.previousNet?.byIface, ctx.now - (ctx.previousNet?.at ?? ctx.now)));
    net = { at: ctx.now, byIface: new Map(counters.map((c) => [c.iface, c])) };
  }

  const zones = sectionList(r.thermal);
  if (zones) metrics.push(...thermalMetrics(zones));
  const battery = sectionObject(r.battery);
  if (battery) metrics.push(...batteryFrom(battery));

  const disks = sectionObject(r.disks);
  if (disks) metrics.push(...diskMetrics(disks));
  const whea = sectionObject(r.whea);
  if (whea) metrics.push(wheaMetric(whea, ctx.now, bootMs));
  const services = sectionList(r.services);
  if (services && ctx.services.length > 0) metrics.push(...serviceMetrics(services, ctx.services));

  const updates = sectionObject(r.updates);
  const reboot = sectionObject(r.reboot);
  let pendingSince: number | undefined = ctx.pendingSince;
  const updateMetric: Metric['fields'] = updateFields(updates, sectionList(r.hotfixes), ctx.now);
  if (reboot) {
    const verdict = rebootVerdict(reboot, systemInstalls(updates), bootMs, ctx.pendingSince, ctx.now);
    Object.assign(updateMetric, verdict.fields);
    pendingSince = verdict.pendingSince;
  }
  if (Object.keys(updateMetric).length > 0) metrics.push({ name: 'win_update', fields: updateMetric });

  const defender = sectionObject(r.defender);
  if (defender) metrics.push(defenderMetric(defender, sectionList(r.antivirus), ctx.now));

  const health: Metric['fields'] = { sections_failed: errors.length };
  if (errors.length > 0) {
    health.failed = text(errors.map((e) => e.slice(0, e.indexOf(':'))).join(','));
    health.error = text(errors[0]!);
  }
  if (ctx.durationMs !== undefined) health.duration_ms = Math.round(ctx.durationMs);
  metrics.push({ name: 'win_health', fields: health });

  return { metrics, drives: driveList ? drivesToMounts(driveList) : undefined, net, pendingSince, errors };
}
