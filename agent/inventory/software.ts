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
    const isUpdate = current.ParentKeyName !== undefined || /^(Update|Hotfix|Security Update)$/i.test(current.ReleaseType ?? '') || /^(KB\d+|Security Update|Update for)/i.test(name ?? '');
    if (name && current.SystemComponent !== '0x1' && !isUpdate) {
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

function run(command: string, args: string[], windowsVerbatimArguments = false): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 60_000, maxBuffer: 32 * 1024 * 1024, windowsHide: true, windowsVerbatimArguments }, (error, stdout) => (error ? reject(error) : resolve(stdout)));
  });
}

/**
 * reg.exe writes in the console code page (857 on Turkish Windows), which would garble "İ", "ş",
 * "ğ" in program and publisher names; switching the code page to UTF-8 first keeps them intact.
 */
function regQuery(key: string): Promise<string> {
  return run('cmd.exe', ['/d', '/s', '/c', `"chcp 65001 >nul & reg query ${key} /s"`], true);
}

const UNINSTALL_KEYS = [
  'HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall',
  'HKLM\\Software\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall',
];

export async function installedSoftware(): Promise<SoftwareEntry[]> {
  let list: SoftwareEntry[];
  if (platform() === 'win32') {
    // The WOW6432Node key is missing on 32-bit Windows: a failed query is an empty list, not an error.
    const outputs = await Promise.all(UNINSTALL_KEYS.map((key) => regQuery(key).catch(() => '')));
    list = outputs.flatMap(parseRegUninstall);
  } else {
    list = await run('dpkg-query', ['-W', '-f', '${Package}\t${Version}\t${Maintainer}\t${db:Status-Abbrev}\n'])
      .then(parseDpkg)
      .catch(() => run('rpm', ['-qa', '--queryformat', '%{NAME}\t%{VERSION}-%{RELEASE}\t%{VENDOR}\n']).then(parseRpm))
      .catch(() => []);
  }
  return normaliseSoftware(list);
}

/**
 * Pure: one entry per name and version (64-bit programs often register in both Uninstall keys),
 * in a stable order, at most the contract's 10,000: the inventory hash changes only on real changes.
 */
export function normaliseSoftware(list: readonly SoftwareEntry[]): SoftwareEntry[] {
  const unique = new Map(list.map((s) => [`${s.name}\u0000${s.version ?? ''}`, s]));
  return [...unique.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : (a.version ?? '') < (b.version ?? '') ? -1 : 1)).slice(0, 10_000);
}
