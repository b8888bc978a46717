import type { Mount } from '../sources/fs.ts';

// The fixed drives of a Windows machine, as the last health script run listed them
// (Win32_LogicalDisk, DriveType 3). The fs source calls statfs on them every interval: the list
// comes from the hardware cadence's one PowerShell run, so the fast cadence starts no process.

let drives: readonly Mount[] | undefined;

export function setWindowsDrives(list: readonly Mount[]): void {
  drives = list;
}

/** Pure: until the first health run has listed the drives, the system drive alone (it always exists). */
export function windowsMounts(listed: readonly Mount[] | undefined, env: NodeJS.ProcessEnv): Mount[] {
  if (listed && listed.length > 0) return [...listed];
  const system = /^[A-Za-z]:$/.test(env.SystemDrive ?? '') ? env.SystemDrive!.toUpperCase() : 'C:';
  return [{ mount: system, path: `${system}\\`, fstype: 'ntfs' }];
}

export function currentWindowsMounts(): Mount[] {
  return windowsMounts(drives, process.env);
}
