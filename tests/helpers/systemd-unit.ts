import { existsSync, readFileSync } from 'node:fs';

// A unit's ExecStart run the way systemd would run it, for machines without systemd (CI): its
// User and Group with the user's groups, UMask, WorkingDirectory, Environment and
// EnvironmentFile, NoNewPrivileges and its capability sets, through util-linux's setpriv.

/** Pure: the [Service] settings of a unit file, each key to its values in order. */
export function unitSettings(text: string): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[')) section = line;
    if (section !== '[Service]' || line.startsWith('#') || !line.includes('=')) continue;
    const at = line.indexOf('=');
    const key = line.slice(0, at);
    settings.set(key, [...(settings.get(key) ?? []), line.slice(at + 1)]);
  }
  return settings;
}

/** Pure: "CAP_NET_RAW CAP_NET_BIND_SERVICE" → "+net_raw,+net_bind_service" (setpriv's spelling). */
export function setprivCaps(value: string | undefined): string {
  return (value ?? '')
    .split(/\s+/)
    .filter((c) => c.length > 0)
    .map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`)
    .join(',');
}

/** Pure: KEY=VALUE lines of an EnvironmentFile (comments and blank lines skipped, one level of quotes taken off). */
export function environmentFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || !line.includes('=')) continue;
    const at = line.indexOf('=');
    env[line.slice(0, at).trim()] = line.slice(at + 1).trim().replace(/^(["'])(.*)\1$/, '$2');
  }
  return env;
}

export interface UnitCommand {
  command: string;
  args: string[];
  cwd: string | undefined;
  env: NodeJS.ProcessEnv;
}

/**
 * The command line that starts `unitPath`'s ExecStart as systemd would. `home` is the service
 * user's home (systemd sets HOME, USER, LOGNAME for User=). The process that runs is ExecStart's
 * own (sh and setpriv exec into it), so a signal to it is a signal to the service.
 */
export function unitCommand(unitPath: string, user: { name: string; uid: number; gid: number; home: string }): UnitCommand {
  const unit = unitSettings(readFileSync(unitPath, 'utf8'));
  const one = (key: string) => unit.get(key)?.at(-1);
  if (one('User') !== user.name) throw new Error(`${unitPath}: User=${one('User')}, expected ${user.name}`);
  const env: NodeJS.ProcessEnv = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: user.home, USER: user.name, LOGNAME: user.name };
  for (const line of unit.get('Environment') ?? []) Object.assign(env, environmentFile(line.split(/\s+/).join('\n')));
  for (const value of unit.get('EnvironmentFile') ?? []) {
    const optional = value.startsWith('-');
    const file = optional ? value.slice(1) : value;
    if (existsSync(file)) Object.assign(env, environmentFile(readFileSync(file, 'utf8')));
    else if (!optional) throw new Error(`${unitPath}: EnvironmentFile ${file} is missing`);
  }
  const caps = setprivCaps(one('AmbientCapabilities'));
  const bounding = setprivCaps(one('CapabilityBoundingSet'));
  const setpriv = [
    `--reuid=${user.uid}`,
    `--regid=${user.gid}`,
    '--init-groups',
    ...(caps ? [`--inh-caps=${caps}`, `--ambient-caps=${caps}`] : []),
    `--bounding-set=-all${bounding ? `,${bounding}` : ''}`,
    ...(one('NoNewPrivileges') === 'true' ? ['--no-new-privs'] : []),
  ];
  const execStart = one('ExecStart')!;
  return {
    command: '/bin/sh',
    args: ['-c', `umask ${one('UMask') ?? '0022'} && exec setpriv ${setpriv.join(' ')} -- ${execStart}`],
    cwd: one('WorkingDirectory'),
    env,
  };
}
