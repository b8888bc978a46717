import { connect } from 'node:net';
import type { CollectorConfig } from '../config.ts';
import { storeInUse } from './snapshot.ts';

// Restoring under a running collector would replace files it has open (it would go on writing
// into the old ones, or damage the new ones). Two signs that one runs, either one enough: a
// store the restore would write is open in another process (SQLite lock), or the configured
// API port answers on this host.

export interface RunningSign {
  reason: string;
}

/** Whether something listens on the port (connect within a second). */
export function portAnswers(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** The address to reach a server bound to `host` from this host. */
export const loopbackFor = (host: string) => (host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host);

export async function collectorRunningSigns(config: CollectorConfig, configFile: string, storePaths: readonly string[]): Promise<RunningSign[]> {
  const signs: RunningSign[] = [];
  for (const path of storePaths) if (storeInUse(path)) signs.push({ reason: `${path} is open in another process` });
  const host = loopbackFor(config.api.host);
  if (config.api.port !== 0 && (await portAnswers(host, config.api.port))) signs.push({ reason: `the collector API port ${host}:${config.api.port} (api.port in ${configFile}) answers` });
  return signs;
}
