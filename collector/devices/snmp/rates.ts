// Counters become per-second rates between two polls. What makes a delta meaningless:
// the first poll, a device reboot (sysUpTime went back: every counter restarted), and a
// Counter64 going backwards (a reset). A Counter32 going backwards from its upper half is a
// wrap (fast links wrap 32-bit octet counters within minutes); from the lower half it is a reset.

export interface CounterSample {
  value: bigint;
  wide: boolean;
  at: number;
}

const WRAP32 = 2n ** 32n;
const UPPER_HALF32 = 2n ** 31n;

export function counterRate(previous: CounterSample | undefined, current: CounterSample, rebooted: boolean): number | undefined {
  if (!previous || rebooted || previous.wide !== current.wide) return undefined;
  const seconds = (current.at - previous.at) / 1000;
  if (seconds <= 0) return undefined;
  let delta = current.value - previous.value;
  if (delta < 0n) {
    if (current.wide || previous.value < UPPER_HALF32) return undefined;
    delta += WRAP32;
  }
  return Number(delta) / seconds;
}

/** sysUpTime (hundredths of a second) lower than the previous poll's: the device restarted. */
export function hasRebooted(previousUptime: number | undefined, uptime: number | undefined): boolean {
  return previousUptime !== undefined && uptime !== undefined && uptime < previousUptime;
}
