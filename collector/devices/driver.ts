import type { z } from 'zod';
import type { EventMessage, Metric } from '../../src/contract/schemas.ts';
import type { DeviceEntry } from './inventory.ts';
import type { Profile } from './profile.ts';
import type { Credential } from './secrets.ts';

// The small interface every device driver implements (SNMP profiles, Hikvision ISAPI, …).
// A driver turns one device + one profile into a session that is polled on the device's
// interval; sessions keep what a poll needs from the previous one (counters for rates, an
// HTTP digest nonce). Adding a driver is a new file plus one line in drivers/index.ts.

export interface DriverTarget {
  device: DeviceEntry;
  profile: Profile;
  /** Resolved from the secrets file; never logged. */
  credential: Credential | undefined;
  /** Language of event messages the driver writes; Turkish unless configured otherwise. */
  language?: Language;
}

export type Language = 'tr' | 'en';

export type DeviceEvent = Pick<EventMessage, 'type' | 'severity' | 'message' | 'data'>;

export interface PollOutcome {
  metrics: Metric[];
  events: DeviceEvent[];
  /** Values the device sent that could not be used (wrong type, out of range): counted, not fatal. */
  problems: string[];
}

export interface DeviceSession {
  /** Rejects with DeviceUnreachableError when the device did not answer at all. */
  poll(signal: AbortSignal): Promise<PollOutcome>;
  close(): void;
}

export interface DeviceDriver {
  readonly name: string;
  /** Which kind of secrets-file entry its devices need ('none': probes of public services); checked when the device list loads. */
  readonly credential: 'snmp' | 'http' | 'none';
  /** The device entry's `options` this driver understands; checked when the device list loads (errors name the field). */
  readonly options?: z.ZodType;
  /**
   * Polls only wait for work the driver gathers and bounds itself (ICMP: one fping run for many
   * targets), so they take none of the poller's concurrency slots; otherwise 64 slots held
   * through a batching window and a 3-ping run capped ICMP at ~3,000 targets a minute (bench/probes.ts).
   */
  readonly batched?: boolean;
  open(target: DriverTarget): DeviceSession;
}

/** The device did not answer (timeout, refused, auth failure): a device state, not a crash. */
export class DeviceUnreachableError extends Error {
  readonly reason: 'timeout' | 'refused' | 'auth' | 'error';
  constructor(message: string, reason: DeviceUnreachableError['reason']) {
    super(message);
    this.name = 'DeviceUnreachableError';
    this.reason = reason;
  }
}

export const emptyOutcome = (): PollOutcome => ({ metrics: [], events: [], problems: [] });
