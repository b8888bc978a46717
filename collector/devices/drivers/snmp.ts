import { DeviceUnreachableError, type DeviceDriver, type DeviceEvent, type DeviceSession, type DriverTarget, type PollOutcome } from '../driver.ts';
import { interpretPoll, planRequests, SYS_UPTIME } from '../snmp/interpret.ts';
import { hasRebooted, type CounterSample } from '../snmp/rates.ts';
import type { RawPoll, RawValue } from '../snmp/raw-value.ts';
import { openSnmpSession, type SnmpClient } from '../snmp/session.ts';

// The generic SNMP driver: whatever the profile lists is read (GET for scalars, GETBULK walks
// for table columns) and interpreted. One session per device and profile; it remembers the
// last counters and sysUpTime so that rates and reboots come out right.

const DEFAULT_TIMEOUT_MS = 2_000;
const DEFAULT_RETRIES = 1;

const REBOOT_MESSAGE = { tr: 'Cihaz yeniden başladı (sysUpTime geriye gitti)', en: 'Device restarted (sysUpTime went back)' } as const;

export const snmpDriver: DeviceDriver = {
  name: 'snmp',
  credential: 'snmp',
  open(target: DriverTarget): DeviceSession {
    const credential = target.credential;
    if (!credential || !('snmp' in credential)) throw new Error(`${target.device.site}/${target.device.id}: profile ${target.profile.id} needs an SNMP credential (community or v3 user)`);
    const client = openSnmpSession({
      address: target.device.address,
      credential: credential.snmp,
      timeoutMs: target.device.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      retries: target.device.retries ?? DEFAULT_RETRIES,
    });
    const plan = planRequests(target.profile);
    const counters = new Map<string, CounterSample>();
    let previousUptime: number | undefined;

    return {
      async poll(signal: AbortSignal): Promise<PollOutcome> {
        const onAbort = () => client.cancel();
        signal.addEventListener('abort', onAbort, { once: true });
        try {
          const { poll, problems } = await readAll(client, plan);
          const now = Date.now();
          const uptime = poll.scalars.get(SYS_UPTIME);
          const uptimeTicks = uptime?.kind === 'timeticks' ? uptime.value : undefined;
          const rebooted = hasRebooted(previousUptime, uptimeTicks);
          previousUptime = uptimeTicks ?? previousUptime;
          const result = interpretPoll({ profile: target.profile, poll, now, counters, rebooted });
          const metrics = result.metrics;
          if (uptimeTicks !== undefined) metrics.push({ name: 'system', fields: { uptime_s: Math.round(uptimeTicks / 100) } });
          const events: DeviceEvent[] = rebooted ? [{ type: 'reboot', severity: 'warning', message: REBOOT_MESSAGE[target.language ?? 'tr'], data: { uptime_s: Math.round((uptimeTicks ?? 0) / 100) } }] : [];
          return { metrics, events, problems: [...problems, ...result.problems] };
        } finally {
          signal.removeEventListener('abort', onAbort);
        }
      },
      close: () => client.close(),
    };
  },
};

/**
 * Scalars first: if they get no answer the device is unreachable. A walk that fails after that
 * (the device stopped answering mid-poll) ends the poll with what was read, as a problem, so a
 * half-dead device does not cost a timeout per column.
 */
async function readAll(client: SnmpClient, plan: ReturnType<typeof planRequests>): Promise<{ poll: RawPoll; problems: string[] }> {
  const scalars = await client.get(plan.scalars);
  const columns = new Map<string, Map<string, RawValue>>();
  const problems: string[] = [];
  for (const [column, maxRows] of plan.columns) {
    try {
      columns.set(column, await client.walkColumn(column, maxRows));
    } catch (error) {
      problems.push(`walk of ${column} stopped: ${error instanceof DeviceUnreachableError ? error.message : String(error)}`);
      break;
    }
  }
  return { poll: { scalars, columns }, problems };
}
