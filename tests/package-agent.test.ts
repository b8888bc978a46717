import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { dpkg, purgeIfInstalled } from './helpers/dpkg.ts';
import { ensurePackagesBuilt } from './helpers/packages.ts';
import { unitSettings } from './helpers/systemd-unit.ts';
import { startCollectorProcess, type CollectorProcess } from './helpers/collector-process.ts';
import { startInfluxDB, startProcess, tempDir, waitFor, type InfluxServer, type ManagedProcess } from './helpers/servers.ts';
import { createWinePrefix, type WinePrefix } from './helpers/wine.ts';

// `npm run package` from this checkout, then each artifact used as an administrator would:
// the .deb installed on this machine (root in CI) and its service's ExecStart run as the
// service user with the unit's settings (there is no systemd in CI), the Windows executable
// under Debian's wine64, the MSI's tables read back with msiinfo (no Windows here to run it).

const root = process.cwd();
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
const dist = join(root, 'dist');
const artifacts = {
  deb: join(dist, `belediye-agent_${version}_amd64.deb`),
  tarball: join(dist, `belediye-agent-${version}-linux-x64.tar.gz`),
  msi: join(dist, `belediye-agent-${version}-win-x64.msi`),
  windowsExe: join(dist, 'build', 'belediye-agent.exe'),
};
const DB = 'paket';
const sh = (command: string, args: string[], env?: NodeJS.ProcessEnv) => execFileSync(command, args, { encoding: 'utf8', env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** Pure: msiinfo's tab-separated export, header rows skipped, as records. */
function msiTable(msi: string, table: string): Record<string, string>[] {
  const [header, , , ...rows] = sh('msiinfo', ['export', msi, table]).split(/\r?\n/).filter((l) => l.length > 0);
  const columns = header!.split('\t');
  return rows.map((row) => Object.fromEntries(row.split('\t').map((value, i) => [columns[i], value])));
}

describe('the agent as packages', () => {
  let influx: InfluxServer;
  let collector: CollectorProcess;
  const processes: ManagedProcess[] = [];
  const createToken = async (site: string) => {
    const response = await fetch(`${collector.apiUrl}/api/v1/enrollment-tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ site, maxUses: 1 }) });
    expect(response.status).toBe(201);
    return ((await response.json()) as { token: string }).token;
  };
  const cpuPoints = async (site: string) => {
    const series = await influx.query(DB, `SELECT count(usage_pct) FROM cpu WHERE site = '${site}'`);
    return Number(series[0]?.values[0]?.[1] ?? 0);
  };

  beforeAll(async () => {
    // The real build command, as CI and a release manager run it (once for all package tests).
    await ensurePackagesBuilt();
    influx = await startInfluxDB();
    await influx.createDatabase(DB);
    collector = await startCollectorProcess({ storage: { type: 'influx-v1', url: influx.url, database: DB }, queue: { flushIntervalMs: 200 }, security: { deviceAuth: 'credentials', apiAuth: 'open' } });
  }, 900_000);
  afterAll(async () => {
    for (const proc of processes) await proc.stop('SIGKILL');
    await collector?.stop();
    await influx?.stop();
  });

  it('builds a .deb, a tarball and an MSI holding one executable each', () => {
    for (const file of Object.values(artifacts)) expect(statSync(file).size, file).toBeGreaterThan(10 * 2 ** 20);
    expect(sh('dpkg-deb', ['-f', artifacts.deb, 'Package', 'Version', 'Architecture', 'Depends'])).toBe(`Package: belediye-agent\nVersion: ${version}\nArchitecture: amd64\nDepends: adduser\n`);
    const debFiles = sh('dpkg-deb', ['-c', artifacts.deb]);
    expect(debFiles).toMatch(/-rwxr-xr-x root\/root .* \.\/usr\/bin\/belediye-agent\n/);
    expect(debFiles).toContain('./lib/systemd/system/belediye-agent.service');
    expect(debFiles).toContain('./usr/share/doc/belediye-agent/THIRD-PARTY-NOTICES');
    const tarFiles = sh('tar', ['-tzvf', artifacts.tarball]);
    expect(tarFiles).toMatch(new RegExp(`-rwxr-xr-x 0/0 .* belediye-agent-${version}/bin/belediye-agent\\n`));
    expect(tarFiles).toContain(`belediye-agent-${version}/belediye-agent.service`);
  });

  it('the MSI installs a real service with failure actions, keeps state on upgrade, and hides the token', () => {
    const services = msiTable(artifacts.msi, 'ServiceInstall');
    expect(services).toEqual([expect.objectContaining({ Name: 'belediye-agent', ServiceType: '16', StartType: '2', StartName: 'NT SERVICE\\belediye-agent', Component_: 'ServiceWrapper' })]);
    // 163 = start on install (1) + stop on install and uninstall (2 + 32) + delete on uninstall (128).
    expect(msiTable(artifacts.msi, 'ServiceControl')).toEqual([expect.objectContaining({ Name: 'belediye-agent', Event: '163', Wait: '1', Component_: 'ServiceWrapper' })]);
    const properties = Object.fromEntries(msiTable(artifacts.msi, 'Property').map((p) => [p.Property, p.Value]));
    expect(properties).toMatchObject({ UpgradeCode: '{2F65AC74-873A-4EEA-86F0-B2375BFD5531}', ProductVersion: version, MsiHiddenProperties: 'ENROLL_TOKEN', ALLUSERS: '1' });
    const upgrades = msiTable(artifacts.msi, 'Upgrade');
    expect(upgrades.map((u) => u.ActionProperty).sort()).toEqual(['WIX_DOWNGRADE_DETECTED', 'WIX_UPGRADE_DETECTED']);
    const files = msiTable(artifacts.msi, 'File').map((f) => f.FileName);
    expect(files.sort()).toEqual(['THIRD-PARTY-NOTICES.txt', 'agent.example.yaml', 'belediye-agent-service.exe', 'belediye-agent-service.exe.config', 'belediye-agent-service.xml', 'belediye-agent.exe']);

    const actions = Object.fromEntries(msiTable(artifacts.msi, 'CustomAction').map((a) => [a.Action, a]));
    // 3090 = an executable installed by this package (18), deferred (1024), as LocalSystem (2048); +64 ignores its exit code.
    expect(actions.WriteAgentConfig).toMatchObject({ Type: '3090', Source: 'AgentExe', Target: expect.stringMatching(/^configure --site "\[SITE\]" --collector "\[COLLECTOR\]" --token "\[ENROLL_TOKEN\]" --ca-file "\[CA_FILE\]"/) });
    expect(actions.SetUpAgentService).toMatchObject({ Type: '3090', Target: 'windows-service-setup' });
    expect(actions.PurgeAgentState).toMatchObject({ Type: '3154', Target: 'purge-state' });
    const sequence = Object.fromEntries(msiTable(artifacts.msi, 'InstallExecuteSequence').map((s) => [s.Action, { at: Number(s.Sequence), condition: s.Condition }]));
    const at = (action: string) => sequence[action]!.at;
    // Deferred actions only run between InstallInitialize and InstallFinalize.
    for (const action of ['WriteAgentConfig', 'SetUpAgentService', 'PurgeAgentState']) expect(at(action)).toBeGreaterThan(at('InstallInitialize'));
    for (const action of ['WriteAgentConfig', 'SetUpAgentService', 'PurgeAgentState']) expect(at(action)).toBeLessThan(at('InstallFinalize'));
    expect(at('WriteAgentConfig')).toBeGreaterThan(at('InstallFiles'));
    expect(at('SetUpAgentService')).toBeGreaterThan(at('InstallServices'));
    expect(at('SetUpAgentService')).toBeLessThan(at('StartServices'));
    expect(at('PurgeAgentState')).toBeLessThan(at('RemoveFiles'));
    expect(at('RemoveExistingProducts')).toBeLessThan(at('InstallInitialize'));
    expect(sequence.PurgeAgentState!.condition).toBe('REMOVE~="ALL" AND PURGE="1" AND NOT UPGRADINGPRODUCTCODE');
    expect(sequence.WriteAgentConfig!.condition).toBe('NOT REMOVE AND SITE AND COLLECTOR');

    // The executable inside the MSI is byte for byte the one the wine test below runs.
    const extracted = tempDir('msi');
    sh('msiextract', ['-C', extracted, artifacts.msi]);
    const inside = sh('find', [extracted, '-name', 'belediye-agent.exe']).trim();
    expect(sha256(inside)).toBe(sha256(artifacts.windowsExe));
    const wrapper = readFileSync(sh('find', [extracted, '-name', 'belediye-agent-service.xml']).trim(), 'utf8');
    expect(wrapper).toContain('<executable>%BASE%\\belediye-agent.exe</executable>');
    expect(wrapper).toContain('--config "%ProgramData%\\belediye-agent\\agent.yaml"');
  });

  it('.deb: installs, runs as its service user with the unit\'s settings, enrolls, reaches InfluxDB; remove keeps state, purge takes it', async () => {
    await purgeIfInstalled('belediye-agent');
    const site = 'paket-deb';
    const token = await createToken(site);
    // The answers an administrator can give dpkg instead of running `belediye-agent configure`.
    const answers = { ...process.env, BELEDIYE_AGENT_SITE: site, BELEDIYE_AGENT_COLLECTOR: collector.apiUrl, BELEDIYE_AGENT_MQTT_URL: collector.mqttUrl!, BELEDIYE_AGENT_TOKEN: token };
    expect(await dpkg(['-i', artifacts.deb], answers)).toContain(`configured /etc/belediye-izleme/agent.yaml (site ${site}, enrollment token saved for one use)`);
    try {
      const uid = Number(sh('id', ['-u', 'belediye-agent']));
      const gid = Number(sh('id', ['-g', 'belediye-agent']));
      const config = statSync('/etc/belediye-izleme/agent.yaml');
      expect([config.uid, config.gid, config.mode & 0o777]).toEqual([0, gid, 0o640]);
      expect(statSync('/etc/belediye-izleme').mode & 0o777).toBe(0o755);
      const state = statSync('/var/lib/belediye-agent');
      expect([state.uid, state.mode & 0o777]).toEqual([uid, 0o700]);
      expect(statSync('/var/lib/belediye-agent/enrollment-token').uid).toBe(uid);

      const unitPath = '/lib/systemd/system/belediye-agent.service';
      sh('systemd-analyze', ['verify', unitPath]);
      const unit = unitSettings(readFileSync(unitPath, 'utf8'));
      expect(unit.get('User')).toEqual(['belediye-agent']);
      expect(unit.get('RestartPreventExitStatus')).toEqual(['2']);
      const groups = [gid, ...(unit.get('SupplementaryGroups') ?? []).flatMap((g) => g.split(' ')).map((g) => Number(sh('getent', ['group', g]).split(':')[2]))];
      const umask = unit.get('UMask')?.[0] ?? '0022';
      const execStart = unit.get('ExecStart')![0]!;
      // ExecStart as systemd would run it: the unit's user, groups, umask and working directory.
      const agent = startProcess('/bin/sh', ['-c', `umask ${umask} && exec setpriv --reuid=${uid} --regid=${gid} --groups=${groups.join(',')} -- ${execStart}`], { cwd: unit.get('WorkingDirectory')![0]! });
      processes.push(agent);
      await waitFor('packaged agent data in InfluxDB', async () => (await cpuPoints(site)) >= 2, 60_000).catch((error: Error) => Promise.reject(new Error(`${error.message}\n${agent.output()}`)));
      expect(existsSync('/var/lib/belediye-agent/enrollment-token')).toBe(false);
      const credentials = statSync('/var/lib/belediye-agent/credentials.json');
      expect([credentials.uid, credentials.mode & 0o777]).toEqual([uid, 0o600]);
      const stopped = performance.now();
      await agent.stop('SIGTERM');
      expect(performance.now() - stopped).toBeLessThan(5_000);
      expect(agent.child.exitCode).toBe(0);

      await dpkg(['--remove', 'belediye-agent']);
      expect(existsSync('/usr/bin/belediye-agent')).toBe(false);
      expect(existsSync('/etc/belediye-izleme/agent.yaml')).toBe(true);
      expect(existsSync('/var/lib/belediye-agent/credentials.json')).toBe(true);
    } finally {
      await purgeIfInstalled('belediye-agent');
    }
    expect(existsSync('/etc/belediye-izleme/agent.yaml')).toBe(false);
    expect(existsSync('/var/lib/belediye-agent')).toBe(false);
    expect(() => sh('id', ['belediye-agent'])).toThrow();
  });

  describe('the Windows executable under wine64', () => {
    let wine: WinePrefix;
    beforeAll(() => {
      wine = createWinePrefix();
    }, 300_000);
    afterAll(() => wine?.stop());

    it('--once prints one metrics message and the inventory as JSON', () => {
      // Paths as Windows spells them, the way an administrator would write the file.
      const dir = tempDir('wine-once');
      writeFileSync(join(dir, 'agent.yaml'), stringify({ site: 'ilce', device: 'bilgiislem-pc01', stateDir: wine.windowsPath(join(dir, 'state')), mqtt: { url: 'mqtt://127.0.0.1:1' } }));
      const result = wine.run(artifacts.windowsExe, ['--config', wine.windowsPath(join(dir, 'agent.yaml')), '--once'], 120_000);
      expect(result.status, result.stderr).toBe(0);
      const once = JSON.parse(result.stdout) as { site: string; device: string; metrics: { metrics: { name: string; fields: Record<string, unknown> }[] }; inventory: { inventory: { os?: { platform?: string } } } };
      expect(once).toMatchObject({ site: 'ilce', device: 'bilgiislem-pc01' });
      expect(once.inventory.inventory.os?.platform).toBe('Windows');
      const names = once.metrics.metrics.map((m) => m.name);
      expect(names).toEqual(expect.arrayContaining(['cpu', 'mem']));
      expect(result.stderr).not.toContain('ExperimentalWarning');
    });

    it('configure, then a normal run enrolls with its one-use token and publishes to the collector', async () => {
      const site = 'paket-wine';
      const token = await createToken(site);
      const dir = tempDir('wine-agent');
      const configPath = wine.windowsPath(join(dir, 'agent.yaml'));
      const stateDir = wine.windowsPath(join(dir, 'state'));
      const configured = wine.run(artifacts.windowsExe, ['configure', '--site', site, '--collector', collector.apiUrl, '--mqtt-url', collector.mqttUrl!, '--token', token, '--config', configPath, '--state-dir', stateDir], 120_000);
      expect(configured.status, configured.stderr).toBe(0);
      expect(existsSync(join(dir, 'state', 'enrollment-token'))).toBe(true);
      const agent = wine.start(artifacts.windowsExe, ['--config', configPath]);
      try {
        await waitFor('the Windows agent\'s data in InfluxDB', async () => (await cpuPoints(site)) >= 2, 120_000).catch((error: Error) => Promise.reject(new Error(`${error.message}\n${agent.output()}`)));
        const devices = (await (await fetch(`${collector.apiUrl}/api/v1/devices?site=${site}`)).json()) as { devices: { site: string; online?: boolean; state?: string }[] };
        expect(devices.devices).toHaveLength(1);
        expect(existsSync(join(dir, 'state', 'enrollment-token'))).toBe(false);
        expect(existsSync(join(dir, 'state', 'credentials.json'))).toBe(true);
      } finally {
        agent.child.kill('SIGKILL');
      }
    });
  });
});
