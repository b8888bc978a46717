import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { hotfixDateMs, healthMetrics, parseHealthOutput, toMs, type HealthContext, type HealthResult, type NetSnapshot } from '../agent/windows/parse-health.ts';
import { HEALTH_SECTIONS, healthScript, psString } from '../agent/windows/health-script.ts';
import { createWindowsHealthSource, POWERSHELL_ARGS, powershellPath, runScript, type ScriptRun } from '../agent/windows/health-source.ts';
import { windowsMounts } from '../agent/windows/drives.ts';
import { smartctlCommand } from '../agent/hardware/smart.ts';
import { agentConfigSchema } from '../agent/config.ts';
import { RuleEngine, type AlertChange } from '../collector/alerts/engine.ts';
import { loadRules } from '../collector/alerts/rules-loader.ts';
import { renderTemplate } from '../collector/alerts/template.ts';
import { metricsToPoints } from '../collector/ingest/map-points.ts';
import { metricSchema, type Metric } from '../src/contract/schemas.ts';
import { tempDir } from './helpers/servers.ts';
import { recordSpawns } from './helpers/spawn-recorder.ts';

// Windows health (agent/windows/): there is no Windows here, so the PowerShell side is covered
// by recorded JSON in tests/fixtures/agent/windows-health/ that we wrote ourselves in the shape
// the health script prints (Windows 11 and 10 PCs with Turkish locale, a Windows Server 2022
// file server), including Windows PowerShell 5.1's quirks (a BOM, one-element arrays as
// objects, {"value":[…],"Count":n}, "\/Date(…)\/"). The process handling runs against a real
// process standing in for powershell.exe (fixtures/…/fake-powershell.ts), the alert rules on
// the real rule engine with points mapped by the collector's own code.

// child_process is wrapped so the "no process on the fast cadence" checks see every start.
const { spawned, restore } = recordSpawns();
afterAll(restore);

const FIXTURES = new URL('./fixtures/agent/windows-health/', import.meta.url);
const fixturePath = (name: string) => new URL(name, FIXTURES).pathname;
const fixture = (name: string) => readFileSync(fixturePath(name), 'utf8');
const FAKE = fixturePath('fake-powershell.ts');

const NOW = Date.UTC(2026, 10, 30, 9, 0, 0);
const DAY = 86_400_000;
const SERVICES = ['Spooler', 'W3SVC', 'MSSQL$SQLEXPRESS'];

function parse(name: string, ctx: Partial<HealthContext> = {}): HealthResult {
  const parsed = parseHealthOutput(fixture(name));
  if ('error' in parsed) throw new Error(parsed.error);
  return healthMetrics(parsed.report, { now: NOW, services: SERVICES, ...ctx });
}
const one = (r: HealthResult, name: string, tag?: string) => r.metrics.find((m) => m.name === name && (tag === undefined || Object.values(m.tags ?? {}).includes(tag)));
const fieldsOf = (r: HealthResult, name: string, tag?: string) => one(r, name, tag)?.fields;

describe('the health script text', () => {
  const script = healthScript({ services: SERVICES });

  it('is one block for `powershell -Command -`: no blank line or comment line inside, a blank line after it, ASCII only', () => {
    expect(script.startsWith('& {\r\n')).toBe(true);
    expect(script.endsWith('\r\n}\r\n\r\n')).toBe(true);
    const inner = script.slice(0, -4).split('\r\n');
    expect(inner.filter((l) => l.trim() === '')).toEqual([]);
    expect(inner.filter((l) => l.trim().startsWith('#'))).toEqual([]);
    expect(/^[\x20-\x7e\r\n]*$/.test(script)).toBe(true);
    expect(script.split('{').length).toBe(script.split('}').length);
    expect(script.split('(').length).toBe(script.split(')').length);
  });

  it('gives every section its own error entry, and prints one JSON document at the end', () => {
    for (const section of HEALTH_SECTIONS) {
      if (section === 'services') continue;
      expect(script, section).toContain(`$r.${section} = Err $_`);
    }
    expect(script).toContain('$r.services = Err $_');
    expect(script.match(/ConvertTo-Json/g)).toHaveLength(1);
    expect(script).toContain("$ErrorActionPreference = 'Stop'");
  });

  it('embeds the configured services as literals, and queries no services when none are configured', () => {
    expect(script).toContain("$want = @('Spooler', 'W3SVC', 'MSSQL$SQLEXPRESS')");
    expect(psString("O'Brien")).toBe("'O''Brien'");
    const none = healthScript({ services: [] });
    expect(none).toContain('$r.services = @()');
    expect(none).not.toContain('Win32_Service');
  });

  it('runs Windows PowerShell by its full path with the agreed arguments', () => {
    expect(powershellPath({ SystemRoot: 'C:\\WINDOWS' })).toBe('C:\\WINDOWS\\System32\\WindowsPowerShell\\v1.0\\powershell.exe');
    expect(powershellPath({})).toBe('C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe');
    expect(POWERSHELL_ARGS).toEqual(['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-Command', '-']);
  });
});

describe('the parser over recorded reports', () => {
  it('healthy PC: every metric is valid under the contract, nothing is flagged', () => {
    const r = parse('healthy-pc.json');
    for (const metric of r.metrics) expect(metricSchema.safeParse(metric).success, JSON.stringify(metric)).toBe(true);
    expect(new Set(r.metrics.map((m) => m.name))).toEqual(new Set(['swap', 'net', 'win_disk', 'win_whea', 'win_service', 'win_update', 'win_defender', 'win_health']));
    expect(fieldsOf(r, 'win_disk', 'PhysicalDrive0')).toEqual({ predicted_failure: 0, health: 'healthy', operational: 'OK', status: 'OK', model: 'SAMSUNG MZVL2512HCJQ-00BH1', temperature_c: 38, wear_pct: 2, read_errors_uncorrected: 0, write_errors_uncorrected: 0, power_on_hours: 6210 });
    expect(fieldsOf(r, 'win_disk', 'PhysicalDrive1')).toMatchObject({ predicted_failure: 0, health: 'healthy' });
    expect(fieldsOf(r, 'win_whea')).toEqual({ errors_24h: 0, errors_since_boot: 0, fatal_since_boot: 0, capped: 0 });
    expect(r.metrics.filter((m) => m.name === 'win_service').map((m) => [m.tags?.instance, m.fields.running, m.fields.state])).toEqual([
      ['Spooler', 1, 'Running'],
      ['W3SVC', 1, 'Running'],
      ['MSSQL$SQLEXPRESS', 1, 'Running'],
    ]);
    // The newest installs are Defender definitions (KB2267602) and the removal tool (KB890830): not system updates.
    expect(fieldsOf(r, 'win_update')).toEqual({ pending_reboot: 0, pending_reboot_days: 0, days_since_update: 18, update_source: 'history', last_update: 'x64 tabanlı Sistemler için Windows 11, version 23H2 2026-11 Toplu Güncelleştirmesi (KB5046633)' });
    expect(fieldsOf(r, 'win_defender')).toEqual({ mode: 'normal', present: 1, realtime: 'on', realtime_enabled: 1, signature_age_days: 0 });
    // No ACPI thermal zone on this desktop ("Desteklenmiyor"): expected, not a failure.
    expect(fieldsOf(r, 'win_health')).toEqual({ sections_failed: 0 });
    expect(r.errors).toEqual([]);
  });

  it('healthy PC: page file as swap, adapters as net (same fields as on Linux), fixed drives for fs', () => {
    const r = parse('healthy-pc.json');
    expect(fieldsOf(r, 'swap')).toEqual({ total_bytes: 4864 * 1024 * 1024, used_bytes: 611 * 1024 * 1024, used_pct: 12.56 });
    expect(fieldsOf(r, 'net', 'Ethernet')).toEqual({ up: true, rx_errors: 0, tx_errors: 0, rx_dropped: 14, tx_dropped: 0, speed_mbps: 1000 });
    expect(fieldsOf(r, 'net', 'Wi-Fi')).toMatchObject({ up: false });
    expect(r.drives).toEqual([
      { mount: 'C:', path: 'C:\\', fstype: 'ntfs' },
      { mount: 'D:', path: 'D:\\', fstype: 'ntfs' },
    ]);
  });

  it('network rates come from the previous round, as on Linux', () => {
    const first = parse('healthy-pc.json', { now: NOW - 300_000 });
    const earlier = first.net!;
    const lower = new Map([...earlier.byIface].map(([k, v]) => [k, { ...v, rxBytes: v.rxBytes - 37_500_000, txBytes: v.txBytes - 3_750_000 }]));
    const r = parse('healthy-pc.json', { previousNet: { at: NOW - 300_000, byIface: lower } satisfies NetSnapshot });
    expect(fieldsOf(r, 'net', 'Ethernet')).toMatchObject({ rx_bps: 1_000_000, tx_bps: 100_000 });
  });

  it('failing disk (server): Pred Fail, driver prediction and Predictive Failure are all named; Defender not installed is not "off"', () => {
    const r = parse('server-failing-disk.json', { services: ['W3SVC'] });
    expect(fieldsOf(r, 'win_disk', 'PhysicalDrive1')).toEqual({
      predicted_failure: 1,
      failure_reason: 'Win32_DiskDrive: Pred Fail; driver failure prediction (reason 5); OperationalStatus: Predictive Failure',
      health: 'warning',
      operational: 'Predictive Failure, OK',
      status: 'Pred Fail',
      model: 'WDC WD40EFRX-68N32N0',
      temperature_c: 41,
      wear_pct: 0,
      read_errors_uncorrected: 118,
      write_errors_uncorrected: 0,
      power_on_hours: 41877,
    });
    // The RAID controller's virtual disk has no reliability counters (nulls): none reported.
    expect(fieldsOf(r, 'win_disk', 'PhysicalDrive0')).toEqual({ predicted_failure: 0, health: 'healthy', operational: 'OK', status: 'OK', model: 'DELL PERC H755 SCSI Disk Device' });
    expect(fieldsOf(r, 'win_defender')).toEqual({ mode: 'absent', present: 0, realtime: 'unknown' });
    // Windows Server has no Security Center namespace: expected, not a failure.
    expect(fieldsOf(r, 'win_health')).toEqual({ sections_failed: 0 });
  });

  it('WHEA: counts in the last 24 h, since boot, and uncorrected ones', () => {
    expect(fieldsOf(parse('whea-errors.json'), 'win_whea')).toEqual({ errors_24h: 3, errors_since_boot: 4, fatal_since_boot: 1, capped: 0 });
    // Without the script's boot time, Node's is used.
    const report = JSON.parse(fixture('whea-errors.json')) as Record<string, unknown>;
    delete report.os;
    expect(healthMetrics(report, { now: NOW, services: [], bootMs: NOW - DAY / 4 }).metrics.find((m) => m.name === 'win_whea')?.fields).toMatchObject({ errors_24h: 3, errors_since_boot: 2, fatal_since_boot: 0 });
  });

  it('services: a stopped one with its exit code, a missing one reported as missing (not an error), names matched case-insensitively or by display name', () => {
    const r = parse('services-stopped-missing.json');
    expect(fieldsOf(r, 'win_service', 'MSSQL$SQLEXPRESS')).toEqual({ state: 'Stopped', running: 0, missing: 0, start_mode: 'Auto', display_name: 'SQL Server (SQLEXPRESS)', exit_code: 1067 });
    expect(fieldsOf(r, 'win_service', 'W3SVC')).toEqual({ state: 'missing', missing: 1 });
    expect(fieldsOf(r, 'win_service', 'Spooler')).toEqual({ state: 'Running', running: 1, missing: 0, start_mode: 'Auto', display_name: 'Yazdırma Biriktiricisi' });
    expect(r.errors).toEqual([]);
    const other = parse('services-stopped-missing.json', { services: ['spooler', 'SQL Server (SQLEXPRESS)'] });
    expect(other.metrics.filter((m) => m.name === 'win_service').map((m) => [m.tags?.instance, m.fields.state])).toEqual([
      ['spooler', 'Running'],
      ['SQL Server (SQLEXPRESS)', 'Stopped'],
    ]);
    // No services configured: no win_service metrics at all.
    expect(parse('services-stopped-missing.json', { services: [] }).metrics.some((m) => m.name === 'win_service')).toBe(false);
  });

  it('pending reboot: its age is the oldest system update installed since boot, or when this agent first saw it', () => {
    const r = parse('pending-reboot.json');
    expect(fieldsOf(r, 'win_update')).toMatchObject({ pending_reboot: 1, pending_reboot_days: 9, pending_reason: 'component_servicing,windows_update,file_rename', days_since_update: 9 });
    expect(r.pendingSince).toBe(Date.UTC(2026, 10, 21, 10, 3, 11));
    // Seen earlier by this agent: the earlier time wins (both are lower bounds).
    expect(fieldsOf(parse('pending-reboot.json', { pendingSince: NOW - 12 * DAY }), 'win_update')).toMatchObject({ pending_reboot_days: 12 });
    // Only a file rename pending: updates do not date it; first seen now, 8 days later 8 days.
    const report = JSON.parse(fixture('pending-reboot.json')) as { reboot: Record<string, unknown> };
    report.reboot = { cbs: false, windowsUpdate: false, fileRename: 2 };
    const first = healthMetrics(report, { now: NOW, services: [] });
    expect(first.metrics.find((m) => m.name === 'win_update')?.fields).toMatchObject({ pending_reboot: 1, pending_reboot_days: 0, pending_reason: 'file_rename' });
    const later = healthMetrics(report, { now: NOW + 8 * DAY, services: [], pendingSince: first.pendingSince });
    expect(later.metrics.find((m) => m.name === 'win_update')?.fields).toMatchObject({ pending_reboot_days: 8 });
    // After the restart nothing is pending: 0 days, and nothing is carried.
    const healthy = parse('healthy-pc.json', { pendingSince: first.pendingSince });
    expect(healthy.pendingSince).toBeUndefined();
  });

  it('updates: Defender definitions and platform updates arriving daily do not hide a machine whose system updates stopped', () => {
    expect(fieldsOf(parse('updates-stale.json'), 'win_update')).toMatchObject({ days_since_update: 46, update_source: 'history', last_update: '2026-10 Cumulative Update for Windows 11 Version 23H2 for x64-based Systems (KB5044285)' });
  });

  it('Defender: real-time protection off is "off"; passive because of another antivirus is "unknown", with that product named', () => {
    expect(fieldsOf(parse('defender-off.json'), 'win_defender')).toEqual({ mode: 'normal', present: 1, realtime: 'off', realtime_enabled: 0, signature_age_days: 12 });
    expect(fieldsOf(parse('defender-passive-third-party.json'), 'win_defender')).toEqual({ mode: 'passive', present: 0, realtime: 'unknown', other_av: 'ESET Endpoint Security' });
  });

  it('a section that failed is counted in win_health and the others still report; the hotfix list stands in for the update history', () => {
    const r = parse('sections-failed.json');
    expect(one(r, 'win_disk')).toBeUndefined();
    expect(one(r, 'win_whea')).toBeUndefined();
    expect(fieldsOf(r, 'win_health')).toEqual({ sections_failed: 3, failed: 'disks,whea,updates', error: 'disks: Erişim engellendi.' });
    expect(r.errors).toEqual(['disks: Erişim engellendi.', 'whea: The RPC server is unavailable', 'updates: Exception from HRESULT: 0x8024401C']);
    expect(fieldsOf(r, 'win_update')).toEqual({ days_since_update: 18.4, update_source: 'hotfix', last_update: 'KB5046633', pending_reboot: 0, pending_reboot_days: 0 });
    expect(new Set(r.metrics.map((m) => m.name))).toEqual(new Set(['swap', 'net', 'win_service', 'win_update', 'win_defender', 'win_health']));
  });

  it("Windows PowerShell 5.1's shapes (BOM, one-element arrays as objects, value/Count wrappers, \\/Date()\\/): a laptop with battery and thermal zones", () => {
    const r = parse('laptop-ps51-shapes.txt', { services: [] });
    for (const metric of r.metrics) expect(metricSchema.safeParse(metric).success, JSON.stringify(metric)).toBe(true);
    expect(r.drives).toEqual([{ mount: 'C:', path: 'C:\\', fstype: 'ntfs' }]);
    expect(fieldsOf(r, 'swap')).toMatchObject({ total_bytes: 2432 * 1024 * 1024 });
    expect(fieldsOf(r, 'net', 'Wi-Fi')).toMatchObject({ up: true, speed_mbps: 867 });
    // Thermal zones as systeminformation reported them before: average as "cpu", each zone as a core.
    expect(r.metrics.filter((m) => m.name === 'temp').map((m) => [m.tags?.sensor, m.fields.celsius])).toEqual([
      ['cpu', 41],
      ['cpu_core0', 35],
      ['cpu_core1', 47],
    ]);
    expect(fieldsOf(r, 'battery')).toEqual({ charge_pct: 87, charging: true, ac_connected: true, cycle_count: 212, health_pct: 84.6 });
    // Temperature 0 is "not reported"; the driver's prediction was denied (no admin): the rest stands.
    expect(fieldsOf(r, 'win_disk', 'PhysicalDrive0')).toEqual({ predicted_failure: 0, health: 'healthy', operational: 'OK', status: 'OK', model: 'KBG40ZNS256G NVMe KIOXIA 256GB' });
    expect(fieldsOf(r, 'win_whea')).toEqual({ errors_24h: 0, errors_since_boot: 0, fatal_since_boot: 0, capped: 0 });
    expect(fieldsOf(r, 'win_update')).toMatchObject({ days_since_update: 16.9, update_source: 'history' });
    expect(fieldsOf(r, 'win_defender')).toMatchObject({ present: 1, realtime: 'on', signature_age_days: 1 });
  });

  it.each([
    ['empty output', '', /printed nothing/],
    ['only a BOM and a line break', '\uFEFF\r\n', /printed nothing/],
    ["PowerShell's parse error", "At line:1 char:4\r\n+ & {\r\nMissing closing '}' in statement block.", /printed invalid JSON|printed no JSON/],
    ['plain text', 'Access is denied.', /printed no JSON: "Access is denied."/],
    ['truncated JSON', '{"v":1,"disks":{"drives":[{"index":0', /printed no JSON|invalid JSON/],
    ['broken JSON', '{"v":1,"disks":}', /invalid JSON/],
  ])('output that is not a report (%s) gives a clear error, no exception', (_what, stdout, message) => {
    const parsed = parseHealthOutput(stdout);
    expect('error' in parsed && parsed.error).toMatch(message);
  });

  it('a report of odd values never throws and yields only valid metrics', () => {
    const odd: unknown[] = [
      null,
      42,
      'text',
      [],
      { v: 1 },
      { disks: 'x', whea: { events: 'y', max: 'z' }, services: [1, null, 's', { name: 7 }], reboot: { cbs: 'yes', fileRename: [1] }, defender: { installed: 'maybe', mode: 5 }, net: { stats: [{ name: 5 }, null, { name: 'Ethernet', rxBytes: -4 }] } },
      { drives: [{ id: 'ZZ:' }, { id: 'E:', size: 0 }, null], pagefile: [{ allocatedMb: 'big' }], thermal: [{ tenthsKelvin: 'hot' }, { tenthsKelvin: 0 }], battery: { list: [{ status: 'x' }, { status: 2, pct: null }] } },
      { disks: { drives: [{ index: 'a' }, { index: 3, status: 5 }], physical: [{ id: 3, health: 'bad', operational: 'x' }], predict: 'no' }, updates: { installs: [{ t: 'yesterday' }, { t: null, title: 3 }] }, hotfixes: [{ on: '13/45/2026' }, { on: 7 }] },
      { os: { bootMs: '\\/Date(abc)\\/' }, whea: { events: [{ t: 'x', level: 'y' }] }, defender: { installed: true, mode: 'Normal', realtime: 'yes', signatureAge: -1, signatureMs: 'never' } },
    ];
    for (const report of odd) {
      const r = healthMetrics(report, { now: NOW, services: ['Spooler'] });
      for (const metric of r.metrics) expect(metricSchema.safeParse(metric).success, JSON.stringify(metric)).toBe(true);
      expect(r.metrics.at(-1)?.name).toBe('win_health');
    }
  });

  it('dates in every shape PowerShell and WMI write them', () => {
    expect(toMs('/Date(1795935312000)/')).toBe(1795935312000);
    expect(toMs('2026-11-30T09:00:00Z')).toBe(NOW);
    expect(toMs('yesterday')).toBeUndefined();
    expect(hotfixDateMs('11/12/2026')).toBe(Date.UTC(2026, 10, 12));
    expect(hotfixDateMs('20261112')).toBe(Date.UTC(2026, 10, 12));
    expect(hotfixDateMs('01dd0a7e2c8e8000')).toBe(Math.floor(Number(0x01dd0a7e2c8e8000n / 10_000n) - 11_644_473_600_000));
    for (const bad of ['', '13/45/2026', 'garbage', '1/1/1999', undefined, 5]) expect(hotfixDateMs(bad), String(bad)).toBeUndefined();
  });
});

describe('the one process per round, with a real process standing in for powershell.exe', () => {
  const fake = (...args: string[]) => (script: string) => runScript(script, { command: process.execPath, args: [FAKE, ...args], timeoutMs: 15_000, maxBytes: 1024 * 1024 });

  it('sends the whole script on standard input and reads the report: metrics, and the drive list for fs', async () => {
    const drives: unknown[] = [];
    const source = createWindowsHealthSource({ services: () => SERVICES, run: fake('reply', fixturePath('services-stopped-missing.json')), now: () => NOW, onDrives: (list) => drives.push(list) });
    expect(source.cadence).toBe('slow');
    const metrics = await source.collect();
    expect(metrics.find((m) => m.tags?.instance === 'MSSQL$SQLEXPRESS')?.fields.state).toBe('Stopped');
    expect(metrics.find((m) => m.name === 'win_health')?.fields.duration_ms).toBeGreaterThan(0);
    expect(drives).toEqual([[{ mount: 'C:', path: 'C:\\', fstype: 'ntfs' }, { mount: 'D:', path: 'D:\\', fstype: 'ntfs' }]]);

    const echoed = await fake('echo')(healthScript({ services: SERVICES }));
    expect((JSON.parse(echoed.stdout) as { script: string }).script).toBe(healthScript({ services: SERVICES }));
  });

  it('keeps the pending-reboot start and network counters from one round to the next', async () => {
    let at = NOW;
    const source = createWindowsHealthSource({ services: () => [], run: fake('reply', fixturePath('pending-reboot.json')), now: () => at, onDrives: () => undefined });
    await source.collect();
    at = NOW + 2 * DAY;
    const metrics = await source.collect();
    expect(metrics.find((m) => m.name === 'win_update')?.fields.pending_reboot_days).toBe(11);
    // Same counters twice: a rate of 0, which needs the previous round's counters.
    expect(metrics.find((m) => m.name === 'net' && m.tags?.iface === 'Ethernet')?.fields.rx_bps).toBe(0);
  });

  it('a script that does not finish is killed after the timeout', async () => {
    const pidFile = join(tempDir('winhealth'), 'pid');
    const started = Date.now();
    await expect(runScript('& {\r\n}\r\n\r\n', { command: process.execPath, args: [FAKE, 'hang', pidFile], timeoutMs: 1_500, maxBytes: 1024 })).rejects.toThrow('the health script did not finish within 2 s; stopped');
    expect(Date.now() - started).toBeLessThan(10_000);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    await sleep(200);
    expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
  });

  it('output that is not JSON, too much output, a command that cannot start and a failure with nothing printed are each one clear error', async () => {
    const source = (run: (s: string) => Promise<ScriptRun>) => createWindowsHealthSource({ services: () => [], run, onDrives: () => undefined });
    await expect(source(fake('garbage')).collect()).rejects.toThrow(/^the health script printed (no|invalid) JSON/);
    await expect(runScript('x', { command: process.execPath, args: [FAKE, 'flood'], timeoutMs: 15_000, maxBytes: 64 * 1024 })).rejects.toThrow(`the health script printed more than ${64 * 1024} bytes; stopped`);
    await expect(runScript('x', { command: '/nonexistent/WindowsPowerShell/v1.0/powershell.exe', args: POWERSHELL_ARGS, timeoutMs: 5_000, maxBytes: 1024 })).rejects.toThrow('cannot start /nonexistent/WindowsPowerShell/v1.0/powershell.exe: ENOENT');
    await expect(runScript('x', { command: process.execPath, args: [FAKE, 'fail'], timeoutMs: 15_000, maxBytes: 1024 })).rejects.toThrow('the health script failed (exit 3): powershell.exe : Program failed to run: Access is denied');
  });
});

describe('process budget on Windows', () => {
  it('the fast cadence is cpu, mem, fs, diskio and system; swap, net, temp and battery come from the one health run', async () => {
    const { platformSources } = await import('../agent/sources/index.ts');
    const win = platformSources('win32');
    expect(win.filter((s) => s.cadence === 'fast').map((s) => s.name)).toEqual(['cpu', 'mem', 'fs', 'diskio', 'system']);
    expect(win.filter((s) => s.cadence === 'slow').map((s) => s.name)).toEqual(['windows_health', 'fan', 'smart', 'raid']);
    // Linux keeps its families.
    expect(platformSources('linux').filter((s) => s.cadence === 'fast').map((s) => s.name).sort()).toEqual(['cpu', 'diskio', 'fs', 'mem', 'net', 'swap', 'system']);
  });

  it("the Windows fast sources, run here, start no process: fs stats the drives the health run listed", async () => {
    const { platformSources } = await import('../agent/sources/index.ts');
    const { setWindowsDrives } = await import('../agent/windows/drives.ts');
    const { fsSourceFor, mountListingFor } = await import('../agent/sources/fs.ts');
    expect(mountListingFor('win32')).toBe('windows-drives');
    // A path that exists here stands in for C:\ (statfs is the same call on both systems).
    setWindowsDrives([{ mount: 'C:', path: '/', fstype: 'ntfs' }]);
    const before = spawned.length;
    const fast = platformSources('win32').filter((s) => s.cadence === 'fast');
    await Promise.all(fast.map((s) => s.collect()));
    await sleep(200);
    const metrics = (await Promise.all(fast.map((s) => s.collect()))).flat();
    expect(spawned.slice(before)).toEqual([]);
    expect(metrics.find((m) => m.name === 'fs')?.tags).toEqual({ mount: 'C:' });
    expect(metrics.find((m) => m.name === 'cpu')?.fields).toHaveProperty('usage_pct');
    expect((await fsSourceFor('win32').collect()).map((m) => m.tags?.mount)).toEqual(['C:']);
  });

  it('the wrapper does see a process start (so the check above can fail)', async () => {
    const before = spawned.length;
    await runScript('x', { command: process.execPath, args: [FAKE, 'echo'], timeoutMs: 15_000, maxBytes: 1024 * 1024 });
    expect(spawned.slice(before)).toEqual([expect.stringContaining('execFile')]);
  });

  it('before the first health run, fs on Windows stats the system drive alone', () => {
    expect(windowsMounts(undefined, { SystemDrive: 'd:' })).toEqual([{ mount: 'D:', path: 'D:\\', fstype: 'ntfs' }]);
    expect(windowsMounts([], {})).toEqual([{ mount: 'C:', path: 'C:\\', fstype: 'ntfs' }]);
  });

  it('smartctl on Windows only where smartctl.exe is on disk; Linux unchanged', () => {
    const env = { ProgramFiles: 'C:\\Program Files', PATH: 'C:\\WINDOWS\\system32;"C:\\Tools\\smart";' };
    expect(smartctlCommand('win32', env, () => false)).toBeUndefined();
    expect(smartctlCommand('win32', env, (p) => p === 'C:\\Program Files\\smartmontools\\bin\\smartctl.exe')).toBe('C:\\Program Files\\smartmontools\\bin\\smartctl.exe');
    expect(smartctlCommand('win32', env, (p) => p === 'C:\\Tools\\smart\\smartctl.exe')).toBe('C:\\Tools\\smart\\smartctl.exe');
    expect(smartctlCommand('linux', {}, () => false)).toBe('smartctl');
    expect(existsSync(FAKE)).toBe(true);
  });
});

describe('configuration', () => {
  it('windows.services defaults to none; a name that could break out of the script is refused by field', () => {
    const base = { site: 'merkez', mqtt: { url: 'mqtt://127.0.0.1:1883' } };
    expect(agentConfigSchema.parse(base).windows).toEqual({ services: [] });
    expect(agentConfigSchema.parse({ ...base, windows: { services: ['MSSQL$SQLEXPRESS', 'W3SVC'] } }).windows.services).toEqual(['MSSQL$SQLEXPRESS', 'W3SVC']);
    for (const bad of ["W3SVC'; Stop-Computer; '", 'a\\b', 'Yazdırma', '']) {
      const result = agentConfigSchema.safeParse({ ...base, windows: { services: [bad] } });
      expect(result.success, bad).toBe(false);
      expect(result.error?.issues[0]?.path).toEqual(['windows', 'services', 0]);
    }
    expect(agentConfigSchema.safeParse({ ...base, windows: { service: ['W3SVC'] } }).success).toBe(false);
  });
});

describe('default rules on the real engine, fed by the parser', () => {
  const MIN = 60_000;
  const at = NOW;
  const engine = () => new RuleEngine(loadRules(), { maxPointAgeMs: 10 * MIN });
  // Every metric is checked against the contract, then mapped to points by the collector's own code.
  const points = (metrics: Metric[], when: number) => {
    for (const metric of metrics) expect(metricSchema.safeParse(metric).success, JSON.stringify(metric)).toBe(true);
    return metricsToPoints({ site: 'merkez', device: 'bi-pc014' }, 'pc', { v: 1, ts: when, metrics });
  };
  const parseAt = (name: string, ctx: Partial<HealthContext> = {}, edit: (report: Record<string, unknown>) => void = () => undefined) => {
    const report = JSON.parse(fixture(name).replace(/^\uFEFF/, '')) as Record<string, unknown>;
    edit(report);
    return healthMetrics(report, { now: at, services: SERVICES, ...ctx });
  };
  const feedAt = (e: RuleEngine, name: string, when: number, ctx: Partial<HealthContext> = {}, edit?: (report: Record<string, unknown>) => void) => e.observe(points(parseAt(name, { now: when, ...ctx }, edit).metrics, when), when);
  const summary = (changes: AlertChange[]) => changes.filter((c) => c.alert.rule.startsWith('win_')).map((c) => `${c.alert.rule}${c.alert.labels.instance ? `[${c.alert.labels.instance}]` : ''}:${c.to}`);

  it('a healthy PC raises nothing', () => {
    const e = engine();
    expect(summary(feedAt(e, 'healthy-pc.json', at))).toEqual([]);
    expect(summary(e.tick(at + 30 * MIN))).toEqual([]);
  });

  it('a predicted disk failure fires at once for that disk only, with the Turkish and English texts', () => {
    const e = engine();
    const changes = feedAt(e, 'server-failing-disk.json', at, { services: ['W3SVC'] });
    expect(summary(changes)).toEqual(['win_disk_failure_predicted[PhysicalDrive1]:firing']);
    const rule = loadRules().find((r) => r.id === 'win_disk_failure_predicted')!;
    const vars = { device: 'bi-pc014', instance: 'PhysicalDrive1' };
    expect(renderTemplate(rule.message.tr, vars)).toBe('bi-pc014: Windows PhysicalDrive1 diskinde arıza öngörüyor, disk yedeklenip değiştirilmeli');
    expect(renderTemplate(rule.message.en, vars)).toBe('bi-pc014: Windows predicts that disk PhysicalDrive1 will fail, back it up and replace it');
  });

  it('WHEA errors in the last 24 h warn, and the alert resolves when a day passes without one', () => {
    const e = engine();
    const changes = feedAt(e, 'whea-errors.json', at);
    expect(summary(changes)).toEqual(['win_hardware_errors:firing']);
    expect(changes.find((c) => c.alert.rule === 'win_hardware_errors')?.alert.value).toBe(3);
    expect(summary(feedAt(e, 'healthy-pc.json', at + 5 * MIN))).toEqual(['win_hardware_errors:resolved']);
  });

  it('a stopped service fires after the next reading confirms it; a missing one warns; running again resolves', () => {
    const e = engine();
    expect(summary(feedAt(e, 'services-stopped-missing.json', at))).toEqual(['win_service_missing[W3SVC]:firing', 'win_service_not_running[MSSQL$SQLEXPRESS]:pending']);
    expect(summary(e.tick(at + 5 * MIN))).toEqual([]);
    expect(summary(feedAt(e, 'services-stopped-missing.json', at + 5 * MIN))).toEqual([]);
    expect(summary(e.tick(at + 6 * MIN))).toEqual(['win_service_not_running[MSSQL$SQLEXPRESS]:firing']);
    expect(summary(feedAt(e, 'healthy-pc.json', at + 10 * MIN))).toEqual(['win_service_missing[W3SVC]:resolved', 'win_service_not_running[MSSQL$SQLEXPRESS]:resolved']);
    // A stop seen once, running at the next reading: never fires.
    const brief = engine();
    feedAt(brief, 'services-stopped-missing.json', at);
    expect(summary(feedAt(brief, 'healthy-pc.json', at + 5 * MIN))).toEqual(['win_service_missing[W3SVC]:resolved', 'win_service_not_running[MSSQL$SQLEXPRESS]:cancelled']);
  });

  it('a reboot pending for over 7 days warns and resolves after the restart; 35 days without a system update warns', () => {
    const e = engine();
    expect(summary(feedAt(e, 'pending-reboot.json', at))).toEqual(['win_reboot_pending:firing']);
    expect(summary(feedAt(e, 'healthy-pc.json', at + 5 * MIN))).toEqual(['win_reboot_pending:resolved']);
    // A file rename pending for 2 days only: nothing.
    const young = engine();
    const renameOnly = (report: Record<string, unknown>) => void (report.reboot = { cbs: false, windowsUpdate: false, fileRename: 2 });
    expect(summary(feedAt(young, 'pending-reboot.json', at, { pendingSince: at - 2 * DAY }, renameOnly))).toEqual([]);
    expect(parseAt('pending-reboot.json', { pendingSince: at - 2 * DAY }, renameOnly).metrics.find((m) => m.name === 'win_update')?.fields.pending_reboot_days).toBe(2);

    const stale = engine();
    const changes = feedAt(stale, 'updates-stale.json', at);
    expect(summary(changes)).toEqual(['win_updates_stale:firing']);
    expect(changes[0]?.alert.value).toBe(46);
  });

  it('Defender real-time off is critical; Defender passive beside another antivirus is not, and resolves an earlier "off"', () => {
    const e = engine();
    expect(summary(feedAt(e, 'defender-off.json', at))).toEqual(['win_defender_realtime_off:firing']);
    expect(summary(feedAt(e, 'defender-passive-third-party.json', at + 5 * MIN))).toEqual(['win_defender_realtime_off:resolved']);
    const other = engine();
    expect(summary(feedAt(other, 'defender-passive-third-party.json', at))).toEqual([]);
    expect(loadRules().find((r) => r.id === 'win_defender_realtime_off')?.severity).toBe('critical');
  });

  it('failed sections raise no alert of their own kind (unknown is not bad)', () => {
    const e = engine();
    expect(summary(feedAt(e, 'sections-failed.json', at))).toEqual([]);
  });
});
