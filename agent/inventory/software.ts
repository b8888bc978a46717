import { execFile } from 'node:child_process';
import { platform } from 'node:os';
import type { z } from 'zod';
import type { softwareEntrySchema } from '../../src/contract/schemas.ts';

export type SoftwareEntry = z.infer<typeof softwareEntrySchema>;

const clip = (s: string | undefined) => (s ? s.slice(0, 256) : undefined);
const entry = (name: string, version?: string, publisher?: string, installDate?: string): SoftwareEntry => {
  const e: SoftwareEntry = { name: name.slice(0, 256) };
  if (version) e.version = clip(version);
  if (publisher) e.publisher = clip(publisher);
  if (installDate) e.installDate = clip(installDate);
  return e;
};

/** Pure: `dpkg-query -W -f '${Package}\t${Version}\t${Maintainer}\t${db:Status-Abbrev}\n'` output. */
export function parseDpkg(text: string): SoftwareEntry[] {
  return text
    .split('\n')
    .map((line) => line.split('\t'))
    .filter(([name, , , status]) => name && (status === undefined || status.startsWith('ii')))
    .map(([name, version, maintainer]) => entry(name!, version, maintainer?.replace(/\s*<.*>$/, '')));
}

/** Pure: `rpm -qa --queryformat '%{NAME}\t%{VERSION}-%{RELEASE}\t%{VENDOR}\n'` output. */
export function parseRpm(text: string): SoftwareEntry[] {
  return text
    .split('\n')
    .map((line) => line.split('\t'))
    .filter(([name]) => name)
    .map(([name, version, vendor]) => entry(name!, version, vendor === '(none)' ? undefined : vendor));
}

/**
 * Pure: `reg query <Uninstall key> /s` output. Each subkey is a program; entries without a
 * DisplayName, system components and updates are left out, as Windows' own list does.
 */
export function parseRegUninstall(text: string): SoftwareEntry[] {
  const out: SoftwareEntry[] = [];
  let current: Record<string, string> = {};
  const flush = () => {
    const name = current.DisplayName;
    if (name && current.SystemComponent !== '0x1' && !current.ParentKeyName && !/^(KB\d+|Security Update|Update for)/i.test(name)) {
      out.push(entry(name, current.DisplayVersion, current.Publisher, current.InstallDate));
    }
    current = {};
  };
  for (const raw of text.split(/\r?\n/)) {
    if (/^HKEY_/.test(raw)) {
      flush();
      continue;
    }
    const m = /^\s{4}(\S+)\s{4}REG_\w+\s{4}(.*)$/.exec(raw);
    if (m) current[m[1]!] = m[2]!.trim();
  }
  flush();
  return out;
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 60_000, maxBuffer: 32 * 1024 * 1024, windowsHide: true }, (error, stdout) => (error ? reject(error) : resolve(stdout)));
  });
}

const UNINSTALL_KEYS = [
  'HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall',
  'HKLM\\Software\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall',
];

export async function installedSoftware(): Promise<SoftwareEntry[]> {
  let list: SoftwareEntry[];
  if (platform() === 'win32') {
    const outputs = await Promise.all(UNINSTALL_KEYS.map((key) => run('reg', ['query', key, '/s']).catch(() => '')));
    list = outputs.flatMap(parseRegUninstall);
  } else {
    list = await run('dpkg-query', ['-W', '-f', '${Package}\t${Version}\t${Maintainer}\t${db:Status-Abbrev}\n'])
      .then(parseDpkg)
      .catch(() => run('rpm', ['-qa', '--queryformat', '%{NAME}\t%{VERSION}-%{RELEASE}\t%{VENDOR}\n']).then(parseRpm))
      .catch(() => []);
  }
  // One entry per name and version, in a stable order, so the inventory hash changes only on real changes.
  const unique = new Map(list.map((s) => [`${s.name}\u0000${s.version ?? ''}`, s]));
  return [...unique.values()].sort((a, b) => a.name.localeCompare(b.name) || (a.version ?? '').localeCompare(b.version ?? ''));
}
