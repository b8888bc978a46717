import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

// A Debian package from a file list with dpkg-deb alone (no debhelper on a build machine):
// files owned by root (--root-owner-group), maintainer scripts, conffiles.

export interface PackageFile {
  /** A path to copy, or the content itself. */
  from: { path: string } | { text: string };
  /** Absolute path on the target machine. */
  to: string;
  mode: number;
}

export interface DebSpec {
  name: string;
  version: string;
  architecture: 'amd64' | 'all';
  maintainer: string;
  section: string;
  summary: string;
  description: string;
  depends?: string[];
  recommends?: string[];
  files: PackageFile[];
  conffiles?: string[];
  scripts?: Partial<Record<'preinst' | 'postinst' | 'prerm' | 'postrm', string>>;
}

/** Pure: the control file. A description's lines are indented one space, empty ones become " .". */
export function controlFile(spec: DebSpec, installedSizeKiB: number): string {
  const lines = [
    `Package: ${spec.name}`,
    `Version: ${spec.version}`,
    `Architecture: ${spec.architecture}`,
    `Maintainer: ${spec.maintainer}`,
    `Section: ${spec.section}`,
    'Priority: optional',
    `Installed-Size: ${installedSizeKiB}`,
    ...(spec.depends?.length ? [`Depends: ${spec.depends.join(', ')}`] : []),
    ...(spec.recommends?.length ? [`Recommends: ${spec.recommends.join(', ')}`] : []),
    `Description: ${spec.summary}`,
    ...spec.description.split('\n').map((line) => (line.trim() === '' ? ' .' : ` ${line}`)),
  ];
  return `${lines.join('\n')}\n`;
}

export function buildDeb(spec: DebSpec, output: string): void {
  const root = mkdtempSync(join(tmpdir(), `${spec.name}-deb-`));
  try {
    let bytes = 0;
    for (const file of spec.files) {
      const target = join(root, file.to);
      mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
      if ('path' in file.from) copyFileSync(file.from.path, target);
      else writeFileSync(target, file.from.text);
      chmodSync(target, file.mode);
      bytes += statSync(target).size;
    }
    const debian = join(root, 'DEBIAN');
    mkdirSync(debian, { mode: 0o755 });
    writeFileSync(join(debian, 'control'), controlFile(spec, Math.ceil(bytes / 1024)));
    if (spec.conffiles?.length) writeFileSync(join(debian, 'conffiles'), `${spec.conffiles.join('\n')}\n`);
    for (const [name, text] of Object.entries(spec.scripts ?? {})) {
      writeFileSync(join(debian, name), text);
      chmodSync(join(debian, name), 0o755);
    }
    mkdirSync(dirname(output), { recursive: true });
    // xz at level 6: what Debian's own archive uses, readable by every dpkg still in service.
    execFileSync('dpkg-deb', ['--root-owner-group', '-Zxz', '-z6', '--build', root, output], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
