import { eventMessageSchema } from '../../src/contract/schemas.ts';
import type { Logger } from '../../src/log.ts';
import type { CollectorConfig } from '../config.ts';
import type { MessageSink } from '../ingest/ingest.ts';
import type { SelfMetrics } from '../self-metrics.ts';
import type { Language } from './driver.ts';
import type { DeviceEntry } from './inventory.ts';
import type { Profile, TrapSpec } from './profile.ts';
import type { SecretsFile } from './secrets.ts';
import { startTrapReceiver, type ReceivedTrap, type TrapReceiver, type TrapUser } from './traps/receiver.ts';
import { deviceForSource, STANDARD_TRAPS, trapToEvent } from './traps/trap-to-event.ts';

// SNMP traps into the same path as everything else: sender → device of the list (or
// unknown/<address>), trap → event of the contract (known ones by the profiles' tables, unknown
// ones kept raw). A trap says nothing about whether a device answers polls, so it does not
// touch the device's online state.

export interface TrapInputs {
  devices: readonly DeviceEntry[];
  secrets: SecretsFile;
  profiles: ReadonlyMap<string, Profile>;
}

export interface TrapService {
  /** Applies a reloaded device list; the receiver restarts only when the accepted credentials changed. */
  update(inputs: TrapInputs): Promise<void>;
  close(): Promise<void>;
}

type TrapSettings = CollectorConfig['devices']['traps'];

export function trapCredentials(settings: TrapSettings, secrets: SecretsFile): { communities: string[]; users: TrapUser[] } {
  const communities: string[] = [];
  const users: TrapUser[] = [];
  for (const [name, credential] of Object.entries(secrets)) {
    if (!('snmp' in credential) || (settings.credentials && !settings.credentials.includes(name))) continue;
    const { snmp } = credential;
    if (snmp.version === '3') users.push({ user: snmp.user, authProtocol: snmp.authProtocol, authKey: snmp.authKey, privProtocol: snmp.privProtocol, privKey: snmp.privKey });
    else communities.push(snmp.community);
  }
  return { communities: [...new Set(communities)], users };
}

export function trapSpecs(profiles: ReadonlyMap<string, Profile>): Record<string, TrapSpec> {
  const specs: Record<string, TrapSpec> = {};
  for (const profile of profiles.values()) Object.assign(specs, profile.traps);
  return specs;
}

export async function startTrapService(settings: TrapSettings, language: Language, initial: TrapInputs, accept: MessageSink, metrics: SelfMetrics, log: Logger): Promise<TrapService> {
  const traps = metrics.counter('collector_traps_total', 'SNMP traps received, by result (event, or why refused)', ['result']);
  let inputs = initial;
  let specs = trapSpecs(initial.profiles);
  const onTrap = (trap: ReceivedTrap) => {
    const sender = deviceForSource(trap.source.address, inputs.devices, trap.agentAddress);
    const event = trapToEvent(trap, specs, language);
    const body = eventMessageSchema.safeParse({ v: 1, ts: trap.receivedAt, ...event });
    if (!body.success) {
      traps.inc({ result: 'invalid' });
      log.log('warn', 'trap could not be made into an event', { trapOid: trap.trapOid, error: body.error.issues[0]?.message });
      return;
    }
    traps.inc({ result: event.type === 'snmp_trap' ? 'unknown_trap' : 'event' });
    const kind = sender.entry ? inputs.profiles.get(sender.entry.profile[0]!)?.kind : undefined;
    accept({ site: sender.site, device: sender.device }, { channel: 'event', body: body.data }, trap.receivedAt, { seen: false, ...(kind ? { kind } : {}) });
  };
  const onError = (error: { kind: string; message: string }) => {
    traps.inc({ result: error.kind });
    log.log('warn', 'trap refused', { kind: error.kind, reason: error.message });
  };
  const open = (credentials: ReturnType<typeof trapCredentials>) => startTrapReceiver({ host: settings.host, port: settings.port, ...credentials, onTrap, onError });

  let credentials = trapCredentials(settings, initial.secrets);
  let receiver: TrapReceiver = await open(credentials);
  log.log('info', 'receiving SNMP traps', { address: receiver.address, port: receiver.port, communities: credentials.communities.length, users: credentials.users.length });
  return {
    async update(next) {
      inputs = next;
      specs = trapSpecs(next.profiles);
      const nextCredentials = trapCredentials(settings, next.secrets);
      if (JSON.stringify(nextCredentials) === JSON.stringify(credentials)) return;
      await receiver.close();
      credentials = nextCredentials;
      receiver = await open(credentials);
      log.log('info', 'trap credentials reloaded', { communities: credentials.communities.length, users: credentials.users.length });
    },
    close: () => receiver.close(),
  };
}
