import { execFileSync, spawnSync } from 'node:child_process';
import { dpkg, installed, purgeIfInstalled, ROOT_ENV } from './helpers/dpkg.ts';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument, stringify } from 'yaml';
import { loadCollectorConfig } from '../collector/config.ts';
import { agentConfigFile, startAgentWithConfig } from './helpers/agent-process.ts';
import { ensurePackagesBuilt } from './helpers/packages.ts';
import { freePort, startInfluxDB, startProcess, tempDir, waitFor, type InfluxServer, type ManagedProcess } from './helpers/servers.ts';
import { unitCommand, unitSettings } from './helpers/systemd-unit.ts';

// `npm run package -- collector` from this checkout, then the .deb used as an administrator
// would on this machine (root in CI): dpkg -i, edit /etc/belediye-izleme/collector.yaml, start
// the service (its ExecStart as the unit would run it: there is no systemd in CI), `izleme`
// without --config, an agent enrolled with the token it made, remove, purge.

const root = process.cwd();
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
const nodeVersion = (JSON.parse(readFileSync(join(root, 'node_modules', 'node', 'package.json'), 'utf8')) as { version: string }).version;
const deb = join(root, 'dist', `belediye-collector_${version}_amd64.deb`);
const PACKAGE = 'belediye-collector';
const USER = 'belediye-collector';
const CONF = '/etc/belediye-izleme';
const STATE = '/var/lib/belediye-collector';
const UNIT = '/lib/systemd/system/belediye-collector.service';
const DB = 'paket_collector';
const SITE = 'paket-collector';
const sh = (command: string, args: string[], env: NodeJS.ProcessEnv = process.env) =>
  execFileSync(command, args, { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });

/** Every value under a key naming a file, directory or store path, with its key (profilesDirs: each entry). */
function pathValues(value: unknown, key = ''): [string, string][] {
  if (Array.isArray(value)) return value.flatMap((v) => pathValues(v, key));
  if (typeof value === 'object' && value !== null) return Object.entries(value).flatMap(([k, v]) => pathValues(v, key ? `${key}.${k}` : k));
  return typeof value === 'string' && /(path|file|dir|dirs)$/i.test(key) ? [[key, value]] : [];
}

const mode = (path: string) => statSync(path).mode & 0o777;
const owner = (path: string) => [statSync(path).uid, statSync(path).gid];

/** Pure: a capability set in /proc/<pid>/status as the numbers of the capabilities in it. */
function capabilityNumbers(hex: string): number[] {
  const bits = BigInt(`0x${hex}`);
  return [...Array(64).keys()].filter((n) => (bits >> BigInt(n)) & 1n);
}
const CAP_NET_BIND_SERVICE = 10;
const CAP_NET_RAW = 13;

describe('the collector as a .deb', () => {
  let influx: InfluxServer;
  const processes: ManagedProcess[] = [];

  beforeAll(async () => {
    // The real build command (`npm run package`), once per test run whichever package test asks first.
    await ensurePackagesBuilt();
    influx = await startInfluxDB();
    await influx.createDatabase(DB);
    await purgeIfInstalled(PACKAGE);
  }, 900_000);
  afterAll(async () => {
    for (const proc of processes) await proc.stop('SIGKILL');
    await purgeIfInstalled(PACKAGE);
    await influx?.stop();
  }, 120_000);

  it('holds the runtime, the bundles and their data files, izleme, the unit, a template with absolute paths, Grafana', () => {
    expect(sh('dpkg-deb', ['-f', deb, 'Package', 'Version', 'Architecture', 'Depends', 'Recommends'])).toBe(
      `Package: ${PACKAGE}\nVersion: ${version}\nArchitecture: amd64\nDepends: adduser\nRecommends: influxdb, fping\n`,
    );
    const files = sh('dpkg-deb', ['-c', deb]);
    for (const file of ['usr/lib/belediye-collector/node', 'usr/bin/izleme']) expect(files).toMatch(new RegExp(`-rwxr-xr-x root/root .* \\./${file}\\n`));
    for (const file of [
      'usr/lib/belediye-collector/collector.mjs',
      'usr/lib/belediye-collector/izleme.mjs',
      'usr/lib/belediye-collector/alerts/default-rules.yaml',
      'usr/lib/belediye-collector/api/openapi.yaml',
      'usr/lib/belediye-collector/devices/profiles/probe-icmp.yaml',
      'lib/systemd/system/belediye-collector.service',
      'usr/share/belediye-collector/collector.yaml',
      'usr/share/belediye-izleme/grafana/provisioning/datasources/belediye-izleme.yaml',
      'usr/share/belediye-izleme/grafana/provisioning/dashboards/belediye-izleme.yaml',
      'usr/share/belediye-izleme/grafana/dashboards/tr/noc-overview.json',
      'usr/share/belediye-izleme/grafana/dashboards/en/noc-overview.json',
      'usr/share/doc/belediye-collector/THIRD-PARTY-NOTICES',
    ]) {
      expect(files).toContain(`./${file}\n`);
    }
    // Nothing under /etc: the configuration is written by postinst, only when there is none.
    expect(files).not.toContain('./etc/');

    // Every store, file and directory the template names, defaults included, is absolute: the
    // unit may write only under /var/lib/belediye-collector, and izleme runs from anywhere.
    const dir = tempDir('collector-template');
    const template = join(dir, 'collector.yaml');
    writeFileSync(template, execFileSync('sh', ['-c', `dpkg-deb --fsys-tarfile "${deb}" | tar -xO ./usr/share/belediye-collector/collector.yaml`], { encoding: 'utf8' }));
    const config = loadCollectorConfig(template, {});
    const paths = pathValues(config);
    expect(paths.map(([key]) => key)).toEqual(expect.arrayContaining(['queue.path', 'security.path', 'registry.path', 'alerts.path', 'alerts.outboxPath', 'backups.path', 'uptime.path', 'reports.path']));
    for (const [key, value] of paths) expect(isAbsolute(value), `${key}: ${value}`).toBe(true);
    for (const key of ['queue.path', 'security.path', 'registry.path', 'alerts.path', 'alerts.outboxPath', 'backups.path', 'uptime.path', 'reports.path']) {
      expect(paths.find(([k]) => k === key)![1].startsWith(`${STATE}/`), key).toBe(true);
    }
    // The commented selfBackup example, uncommented as an administrator would: a directory the unit may write.
    const lines = readFileSync(template, 'utf8').split('\n');
    const start = lines.indexOf('# selfBackup:');
    expect(start).toBeGreaterThan(0);
    let end = start + 1;
    while (lines[end]?.startsWith('#   ')) end++;
    const withSelfBackup = join(dir, 'collector-self-backup.yaml');
    writeFileSync(withSelfBackup, [...lines.slice(0, start), ...lines.slice(start, end).map((l) => l.slice(2)), ...lines.slice(end)].join('\n'));
    const selfBackup = loadCollectorConfig(withSelfBackup, {}).selfBackup;
    expect(selfBackup).toMatchObject({ site: 'merkez', keep: 7 });
    expect(selfBackup!.dir.startsWith(`${STATE}/`), selfBackup!.dir).toBe(true);
    // Secure until TLS is set up: the API and MQTT on loopback, authentication on.
    expect([config.api.host, config.broker.mode === 'embedded' && config.broker.host, config.security.deviceAuth, config.security.apiAuth]).toEqual(['127.0.0.1', '127.0.0.1', 'credentials', 'tokens']);
  });

  it('installs, runs as its service user under the unit\'s settings, izleme as root makes a token it accepts, an agent\'s and fping\'s data reach InfluxDB; remove keeps, purge takes', async () => {
    // Files an administrator (or configuration management) put in place before installing,
    // with careless modes: postinst gives them the owners and modes the collector expects.
    sh('install', ['-d', '-m', '0755', CONF]);
    writeFileSync(join(CONF, 'devices.yaml'), stringify({ devices: [{ site: SITE, id: 'yerel-ping', address: '127.0.0.1', profile: 'probe-icmp', intervalS: 5 }] }), { mode: 0o644 });
    writeFileSync(join(CONF, 'device-secrets.yaml'), stringify({ 'yerel-ro': { snmp: { version: '2c', community: 'paket-test' } } }), { mode: 0o644 });

    expect(await dpkg(['-i', deb])).toContain(`wrote ${CONF}/collector.yaml`);
    const uid = Number(sh('id', ['-u', USER]));
    const gid = Number(sh('id', ['-g', USER]));
    expect([mode(CONF), ...owner(CONF)]).toEqual([0o755, 0, 0]);
    expect([mode(`${CONF}/collector.yaml`), ...owner(`${CONF}/collector.yaml`)]).toEqual([0o640, 0, gid]);
    expect([mode(`${CONF}/devices.yaml`), ...owner(`${CONF}/devices.yaml`)]).toEqual([0o640, 0, gid]);
    expect([mode(`${CONF}/device-secrets.yaml`), ...owner(`${CONF}/device-secrets.yaml`)]).toEqual([0o600, uid, gid]);
    expect([mode(STATE), ...owner(STATE)]).toEqual([0o700, uid, gid]);
    expect(sh('/usr/lib/belediye-collector/node', ['--version'], ROOT_ENV).trim()).toBe(`v${nodeVersion}`);

    // The unit as installed: systemd accepts it, and its exposure is at most 5.0 ("OK").
    sh('systemd-analyze', ['verify', UNIT], ROOT_ENV);
    const security = spawnSync('systemd-analyze', ['security', '--offline=true', UNIT], { encoding: 'utf8', env: ROOT_ENV });
    const exposure = Number(/Overall exposure level for belediye-collector\.service: ([\d.]+)/.exec(security.stdout)?.[1]);
    expect(exposure, security.stdout).toBeLessThanOrEqual(5.0);
    const unit = unitSettings(readFileSync(UNIT, 'utf8'));
    expect(unit.get('User')).toEqual([USER]);
    expect(unit.get('RestartPreventExitStatus')).toEqual(['2']);
    expect(unit.get('UMask')).toEqual(['0077']);
    expect(unit.get('ExecStart')![0]).toMatch(/^\/usr\/lib\/belediye-collector\/node .*\/usr\/lib\/belediye-collector\/collector\.mjs --config \/etc\/belediye-izleme\/collector\.yaml$/);

    // The administrator's edits: this test's InfluxDB and free ports, the device list named,
    // fast flushes. Comments and the rest of the template stay.
    const [apiPort, mqttPort] = [await freePort(), await freePort()];
    const document = parseDocument(readFileSync(`${CONF}/collector.yaml`, 'utf8'));
    document.setIn(['storage', 'url'], influx.url);
    document.setIn(['storage', 'database'], DB);
    document.setIn(['api', 'port'], apiPort);
    document.setIn(['broker', 'port'], mqttPort);
    document.setIn(['queue', 'flushIntervalMs'], 200);
    document.setIn(['devices', 'file'], `${CONF}/devices.yaml`);
    document.setIn(['devices', 'secretsFile'], `${CONF}/device-secrets.yaml`);
    writeFileSync(`${CONF}/collector.yaml`, document.toString());
    expect([mode(`${CONF}/collector.yaml`), ...owner(`${CONF}/collector.yaml`)]).toEqual([0o640, 0, gid]);
    const apiUrl = `http://127.0.0.1:${apiPort}`;

    try {
      const start = unitCommand(UNIT, { name: USER, uid, gid, home: STATE });
      const collector = startProcess(start.command, start.args, { cwd: start.cwd, env: start.env });
      processes.push(collector);
      const withOutput = (error: Error) => Promise.reject(new Error(`${error.message}\n${collector.output()}`));
      await waitFor('the packaged collector ready', async () => {
        if (collector.child.exitCode !== null) throw new Error(`collector exited ${collector.child.exitCode}`);
        return (await fetch(`${apiUrl}/readyz`)).ok;
      }, 30_000).catch(withOutput);

      // The process is the unit's ExecStart as its user, with exactly the capabilities the unit names.
      const status = readFileSync(`/proc/${collector.child.pid}/status`, 'utf8');
      const field = (name: string) => new RegExp(`^${name}:\\s+(\\S+)`, 'm').exec(status)![1]!;
      expect(field('Uid')).toBe(String(uid));
      expect(field('NoNewPrivs')).toBe('1');
      expect(capabilityNumbers(field('CapAmb'))).toEqual([CAP_NET_BIND_SERVICE, CAP_NET_RAW]);
      expect(capabilityNumbers(field('CapBnd'))).toEqual([CAP_NET_BIND_SERVICE, CAP_NET_RAW]);
      expect(readFileSync(`/proc/${collector.child.pid}/cmdline`, 'utf8').split('\0')[0]).toBe('/usr/lib/belediye-collector/node');

      // izleme as root, from /, without --config: it reads /etc/belediye-izleme/collector.yaml.
      const created = spawnSync('/usr/bin/izleme', ['admin', 'enrollment-token', 'create', '--site', SITE, '--uses', '1'], { encoding: 'utf8', env: ROOT_ENV, cwd: '/' });
      expect(created.status, created.stderr).toBe(0);
      expect(created.stderr).not.toContain('ExperimentalWarning');
      const { token } = JSON.parse(created.stdout) as { token: string };
      expect(token).toMatch(/^enr_/);
      // root's write left every store and its journal the service's own.
      for (const name of readdirSync(STATE)) expect([name, ...owner(join(STATE, name))]).toEqual([name, uid, gid]);

      // A real agent enrolls with that token through the installed collector and publishes.
      const agent = startAgentWithConfig(agentConfigFile({ site: SITE, device: 'paket-srv', kind: 'server', intervalS: 1, mqtt: { url: `mqtt://127.0.0.1:${mqttPort}` }, enrollment: { url: apiUrl, token } }));
      processes.push(agent);
      const count = async (query: string) => Number((await influx.query(DB, query))[0]?.values[0]?.[1] ?? 0);
      await waitFor('the enrolled agent\'s data in InfluxDB', async () => (await count(`SELECT count(usage_pct) FROM cpu WHERE site = '${SITE}'`)) >= 2, 60_000).catch((error: Error) =>
        Promise.reject(new Error(`${error.message}\nagent: ${agent.output()}\ncollector: ${collector.output()}`)),
      );
      // ICMP probes: fping runs under NoNewPrivileges and still pings, with the ambient CAP_NET_RAW.
      await waitFor('ICMP probe results (fping) in InfluxDB', async () => (await count(`SELECT count(rtt_ms) FROM probe WHERE site = '${SITE}'`)) >= 1, 30_000).catch(withOutput);
      expect(collector.output()).not.toContain('can be read by other users');
      expect(collector.output()).not.toContain('ExperimentalWarning');
      await agent.stop('SIGTERM');

      const stopping = performance.now();
      await collector.stop('SIGTERM');
      expect(performance.now() - stopping).toBeLessThan(10_000);
      expect(collector.child.exitCode).toBe(0);

      // The control: a process of the same user under NoNewPrivileges without the ambient
      // capability (sh here, the collector above) starting fping, where the kernel does not hand
      // out unprivileged ICMP sockets: fping's own file capability is not honoured, it cannot ping.
      const [low, high] = readFileSync('/proc/sys/net/ipv4/ping_group_range', 'utf8').trim().split(/\s+/).map(Number);
      if (!(gid >= low! && gid <= high!)) {
        const bare = spawnSync('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--init-groups', '--no-new-privs', '--', '/bin/sh', '-c', 'fping -C1 127.0.0.1'], { encoding: 'utf8', env: ROOT_ENV });
        expect(bare.stderr).toContain("can't create socket");
      }

      await dpkg(['--remove', PACKAGE]);
      for (const gone of ['/usr/bin/izleme', '/usr/lib/belediye-collector/node', UNIT]) expect(existsSync(gone), gone).toBe(false);
      for (const kept of [`${CONF}/collector.yaml`, `${CONF}/device-secrets.yaml`, `${STATE}/security.sqlite`, `${STATE}/spool.sqlite`]) expect(existsSync(kept), kept).toBe(true);
    } finally {
      await purgeIfInstalled(PACKAGE);
    }
    for (const gone of [`${CONF}/collector.yaml`, `${CONF}/devices.yaml`, `${CONF}/device-secrets.yaml`, STATE]) expect(existsSync(gone), gone).toBe(false);
    // The directory is shared with belediye-agent: purge takes it only when nothing else is left in it.
    if (existsSync(CONF)) expect(readdirSync(CONF)).not.toEqual([]);
    expect(spawnSync('id', [USER]).status).not.toBe(0);
    expect(spawnSync('getent', ['group', USER]).status).not.toBe(0);
  }, 300_000);

  it('purge leaves other packages\' files in /etc/belediye-izleme, and the directory goes only when empty', async () => {
    // A file of another package sharing the directory (belediye-agent's agent.yaml is one; a name
    // of its own here, so an agent install by package-agent.test.ts running alongside is untouched).
    const other = `${CONF}/paket-test-other.yaml`;
    sh('install', ['-d', '-m', '0755', CONF]);
    writeFileSync(other, 'site: merkez\n', { mode: 0o640 });
    try {
      await dpkg(['-i', deb]);
      expect(existsSync(`${CONF}/collector.yaml`)).toBe(true);
      await dpkg(['--purge', PACKAGE]);
      expect(readFileSync(other, 'utf8')).toBe('site: merkez\n');
      expect(existsSync(`${CONF}/collector.yaml`)).toBe(false);
    } finally {
      spawnSync('rm', ['-f', other]);
      // Empty unless an agent is installed alongside: then it stays, as it should.
      spawnSync('rmdir', [CONF]);
    }
  }, 120_000);
});
