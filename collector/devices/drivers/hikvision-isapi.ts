import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { z } from 'zod';
import type { Metric } from '../../../src/contract/schemas.ts';
import { DeviceUnreachableError, type DeviceDriver, type DeviceSession, type DriverTarget, type PollOutcome } from '../driver.ts';
import { DigestClient, HttpClientError, type DigestClientOptions } from '../http/digest-client.ts';
import { parseAddress } from '../inventory.ts';

// Hikvision NVRs over ISAPI (HTTP + Digest): disks (nvr_disk) and channels (nvr_channel).
//
// Address: `host` or `host:port` is plain HTTP (port 80). `https://host[:port]` is HTTPS with the
// certificate verified (port 443); `https+insecure://host[:port]` is HTTPS without verification,
// for the self-signed certificate NVRs ship with. `http://` may be written too. The scheme sits
// in the address because the device entry has no other per-device option.
// Credential: `{ http: { username, password } }` in the secrets file.
//
// What is read, with the Hikvision "Intelligent Security API (General) Developer Guide",
// chapter 16 (request and response messages), as the source of element names:
// - GET /ISAPI/ContentMgmt/Storage → <storage><hddList><hdd> (XML_hdd): id, hddName,
//   status ("ok, unformatted, error, idle, mismatch, offline, smartFailed, reparing, formating,
//   notexist, unRecordHostFormatted"), capacity and freeSpace (xs:float, unit MB).
// - GET /ISAPI/ContentMgmt/InputProxy/channels/status → <InputProxyChannelStatusList>
//   <InputProxyChannelStatus> (XML_InputProxyChannelStatus): id, online (xs:boolean). It says
//   nothing about recording, and /ISAPI/ContentMgmt/record/tracks is only the schedule.
// - GET /ISAPI/System/workingstatus?format=json → JSON_WorkingStatus: ChanStatus[] with chanNo,
//   online (0/1), record ("whether the device is recording, 0-no, 1-yes") and signal
//   ("0-normal, 1-signal loss"). This is the documented "recording now" and video-loss state;
//   the guide gives it in JSON only (there is no XML_WorkingStatus).
// Channels are matched by number: InputProxy id and ChanStatus chanNo both start from 1.

export const HIKVISION_ISAPI_PATHS = {
  storage: '/ISAPI/ContentMgmt/Storage',
  channels: '/ISAPI/ContentMgmt/InputProxy/channels/status',
  working: '/ISAPI/System/workingstatus?format=json',
} as const;

/** Bounds on what one device can make us store per poll. */
export const MAX_DISKS = 256;
export const MAX_CHANNELS = 512;
const DEFAULT_TIMEOUT_MS = 5_000;
const MIB = 1024 * 1024;
const OK_DISK_STATUSES = new Set(['ok', 'idle']);

const SCHEMES = [
  { prefix: 'https+insecure://', https: true, rejectUnauthorized: false, port: 443 },
  { prefix: 'https://', https: true, rejectUnauthorized: true, port: 443 },
  { prefix: 'http://', https: false, rejectUnauthorized: true, port: 80 },
  { prefix: '', https: false, rejectUnauthorized: true, port: 80 },
] as const;

/** `https+insecure://10.0.0.5:8443` → where and how to connect; a clear error for anything else. */
export function parseIsapiAddress(address: string): Pick<DigestClientOptions, 'https' | 'host' | 'port' | 'rejectUnauthorized'> {
  const scheme = SCHEMES.find((s) => address.toLowerCase().startsWith(s.prefix))!;
  const { host, port } = parseAddress(address.slice(scheme.prefix.length), scheme.port);
  if (!host || /[/\s@?#]/.test(host) || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new Error(`address "${address}": expected host, host:port, https://host[:port] or https+insecure://host[:port]`);
  }
  return { https: scheme.https, host, port, rejectUnauthorized: scheme.rejectUnauthorized };
}

export const hikvisionIsapiDriver: DeviceDriver = {
  name: 'hikvision-isapi',
  credential: 'http',
  open({ device, credential }: DriverTarget): DeviceSession {
    const name = `${device.site}/${device.id}`;
    if (!credential || !('http' in credential)) throw new Error(`${name}: the hikvision-isapi driver needs a credential of the form { http: { username, password } }`);
    const client = new DigestClient({
      ...parseIsapiAddress(device.address),
      username: credential.http.username,
      password: credential.http.password,
      timeoutMs: device.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    });
    return {
      poll: (signal) => poll(client, signal),
      close: () => client.close(),
    };
  },
};

async function poll(client: DigestClient, signal: AbortSignal): Promise<PollOutcome> {
  const problems: string[] = [];
  // One request at a time: an NVR is a small machine, and one kept-alive socket serves all three.
  const storage = await fetchBody(client, HIKVISION_ISAPI_PATHS.storage, signal, problems);
  const channels = await fetchBody(client, HIKVISION_ISAPI_PATHS.channels, signal, problems);
  const working = await fetchBody(client, HIKVISION_ISAPI_PATHS.working, signal, problems);
  if (storage === undefined && channels === undefined && working === undefined) {
    throw new DeviceUnreachableError(`no ISAPI endpoint answered: ${problems.join('; ')}`, 'error');
  }
  const disks = storage === undefined ? [] : readDisks(storage, problems);
  const proxy = channels === undefined ? [] : readProxyChannels(channels, problems);
  const chanStatus = working === undefined ? [] : readChanStatus(working, problems);
  return { metrics: [...disks, ...mergeChannels(proxy, chanStatus, problems)], events: [], problems };
}

/** The body of a 200 answer; other statuses and oversized bodies are problems, silence and 401 are unreachable. */
async function fetchBody(client: DigestClient, path: string, signal: AbortSignal, problems: string[]): Promise<string | undefined> {
  try {
    const response = await client.get(path, signal);
    if (response.status === 200) return response.body;
    problems.push(`${path}: HTTP ${response.status}${response.status === 404 ? ' (not supported by this firmware)' : ''}`);
    return undefined;
  } catch (error) {
    if (!(error instanceof HttpClientError)) throw error;
    if (error.kind === 'too_large') {
      problems.push(error.message);
      return undefined;
    }
    throw new DeviceUnreachableError(error.message, error.kind === 'network' ? 'error' : error.kind);
  }
}

// --- validation of single values: a bad one is skipped with a problem line naming it ---

const missingOr = (expected: string) => (issue: { input: unknown }) => (issue.input === undefined ? 'missing' : `expected ${expected}`);
const text = (max: number) => z.string({ error: missingOr('text') }).min(1, 'empty').max(max, `longer than ${max} characters`);
const tagValue = text(64).regex(/^[\w.-]+$/, 'expected letters, digits, "_", "-" or "."');
const megabytes = z
  .string({ error: missingOr('a number of MB') })
  .regex(/^\d{1,15}(\.\d{1,6})?$/, 'expected a number of MB')
  .transform(Number);
const xmlBoolean = z.enum(['true', 'false'], { error: missingOr('true or false') }).transform((v) => (v === 'true' ? 1 : 0));
const zeroOrOne = z.union([z.literal(0), z.literal(1)], { error: missingOr('0 or 1') });
const chanNo = z.number({ error: missingOr('a channel number') }).int('expected a channel number').min(1).max(100_000);

function read<T>(schema: z.ZodType<T>, value: unknown, where: string, problems: string[]): T | undefined {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const got = value === undefined ? '' : ` (got ${preview(value)})`;
  problems.push(`${where}: ${result.error.issues[0]?.message ?? 'invalid'}${got}`);
  return undefined;
}

function preview(value: unknown): string {
  const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : (JSON.stringify(value) ?? String(value)).slice(0, 40);
  return typeof value === 'string' && value.length > 40 ? `${shown}… ${value.length} characters` : shown;
}

/** Keeps the first `max` items, saying how many were dropped. */
function bounded<T>(items: T[], max: number, what: string, problems: string[]): T[] {
  if (items.length > max) problems.push(`${what}: ${items.length} reported, kept the first ${max}`);
  return items.slice(0, max);
}

// --- XML documents ---

const xml = new XMLParser({
  removeNSPrefix: true,
  ignoreAttributes: true,
  ignoreDeclaration: true,
  parseTagValue: false,
  // No entity expansion: a document cannot grow itself after the size check.
  processEntities: false,
  isArray: (_name, jpath) => jpath === 'storage.hddList.hdd' || jpath === 'InputProxyChannelStatusList.InputProxyChannelStatus',
});

/** The list under root > [container >] item, or undefined with a problem when the document is not that. */
function xmlList(body: string, path: string, keys: string[], problems: string[]): unknown[] | undefined {
  const valid = XMLValidator.validate(body);
  if (valid !== true) {
    problems.push(`${path}: not well-formed XML (${valid.err.msg.slice(0, 80)} at line ${valid.err.line})`);
    return undefined;
  }
  let node: unknown = xml.parse(body);
  for (const [i, key] of keys.entries()) {
    // An empty list element (<hddList/>) is parsed as "".
    if (node === '' && i > 0) return [];
    if (typeof node !== 'object' || node === null || !(key in node)) {
      problems.push(`${path}: expected <${keys.slice(0, i + 1).join('><')}>`);
      return undefined;
    }
    node = (node as Record<string, unknown>)[key];
  }
  if (node === '') return [];
  if (!Array.isArray(node)) {
    problems.push(`${path}: expected a list of <${keys.at(-1)}>`);
    return undefined;
  }
  return node;
}

function readDisks(body: string, problems: string[]): Metric[] {
  const hdds = xmlList(body, 'storage', ['storage', 'hddList', 'hdd'], problems);
  if (!hdds) return [];
  const metrics: Metric[] = [];
  bounded(hdds, MAX_DISKS, 'storage', problems).forEach((raw, index) => {
    const hdd = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    const where = `storage hdd[${index}]`;
    const id = hdd.id === undefined ? undefined : read(tagValue, hdd.id, `${where}.id`, problems);
    const disk = id ?? read(tagValue, hdd.hddName, `${where}.hddName`, problems);
    if (disk === undefined) return;
    const fields: Metric['fields'] = {};
    const status = read(text(64), hdd.status, `disk ${disk} status`, problems);
    if (status !== undefined) {
      fields.ok = OK_DISK_STATUSES.has(status) ? 1 : 0;
      fields.status = status;
    }
    const capacity = read(megabytes, hdd.capacity, `disk ${disk} capacity`, problems);
    const free = read(megabytes, hdd.freeSpace, `disk ${disk} freeSpace`, problems);
    // ISAPI's MB are MiB: a "2 TB" disk reports 1907729.
    if (capacity !== undefined) fields.capacity_bytes = Math.round(capacity * MIB);
    if (free !== undefined) fields.free_bytes = Math.round(free * MIB);
    if (capacity !== undefined && free !== undefined && capacity > 0) {
      if (free > capacity) problems.push(`disk ${disk}: freeSpace ${free} MB is larger than capacity ${capacity} MB`);
      else fields.used_pct = Math.round(((capacity - free) / capacity) * 10_000) / 100;
    }
    if (Object.keys(fields).length > 0) metrics.push({ name: 'nvr_disk', tags: { disk }, fields });
  });
  return metrics;
}

interface ChannelState {
  channel: string;
  online?: number;
  recording?: number;
  video_loss?: number;
}

function readProxyChannels(body: string, problems: string[]): ChannelState[] {
  const list = xmlList(body, 'channels', ['InputProxyChannelStatusList', 'InputProxyChannelStatus'], problems);
  if (!list) return [];
  const states: ChannelState[] = [];
  bounded(list, MAX_CHANNELS, 'channels', problems).forEach((raw, index) => {
    const item = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    const channel = read(tagValue, item.id, `channels InputProxyChannelStatus[${index}].id`, problems);
    if (channel === undefined) return;
    const online = read(xmlBoolean, item.online, `channel ${channel} online`, problems);
    states.push(online === undefined ? { channel } : { channel, online });
  });
  return states;
}

const workingStatusSchema = z.object({ WorkingStatus: z.object({ ChanStatus: z.array(z.unknown()).optional() }) });

function readChanStatus(body: string, problems: string[]): ChannelState[] {
  let document: unknown;
  try {
    document = JSON.parse(body);
  } catch (error) {
    problems.push(`workingstatus: not JSON (${(error as Error).message.slice(0, 80)})`);
    return [];
  }
  const parsed = workingStatusSchema.safeParse(document);
  if (!parsed.success) {
    problems.push(`workingstatus: expected {"WorkingStatus": {"ChanStatus": [...]}}`);
    return [];
  }
  const states: ChannelState[] = [];
  bounded(parsed.data.WorkingStatus.ChanStatus ?? [], MAX_CHANNELS, 'workingstatus', problems).forEach((raw, index) => {
    const item = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    const number = read(chanNo, item.chanNo, `workingstatus ChanStatus[${index}].chanNo`, problems);
    if (number === undefined) return;
    const channel = String(number);
    const state: ChannelState = { channel };
    const online = read(zeroOrOne, item.online, `channel ${channel} online (workingstatus)`, problems);
    const recording = read(zeroOrOne, item.record, `channel ${channel} record`, problems);
    const videoLoss = read(zeroOrOne, item.signal, `channel ${channel} signal`, problems);
    if (online !== undefined) state.online = online;
    if (recording !== undefined) state.recording = recording;
    if (videoLoss !== undefined) state.video_loss = videoLoss;
    states.push(state);
  });
  return states;
}

/** One point per channel: online from InputProxy (the camera link) when it has it, recording and video loss from WorkingStatus. */
function mergeChannels(proxy: ChannelState[], chanStatus: ChannelState[], problems: string[]): Metric[] {
  const merged = new Map<string, ChannelState>();
  let dropped = 0;
  for (const [source, states] of [['channels', proxy], ['workingstatus', chanStatus]] as const) {
    const seen = new Set<string>();
    for (const state of states) {
      if (seen.has(state.channel)) {
        problems.push(`${source}: channel ${state.channel} listed twice, kept the first`);
        continue;
      }
      seen.add(state.channel);
      const known = merged.get(state.channel);
      // InputProxy states carry only `online`, which wins over WorkingStatus's.
      if (known) merged.set(state.channel, { ...state, ...known });
      else if (merged.size < MAX_CHANNELS) merged.set(state.channel, state);
      else dropped++;
    }
  }
  if (dropped > 0) problems.push(`channels: ${merged.size + dropped} in all, kept the first ${MAX_CHANNELS}`);
  const metrics: Metric[] = [];
  for (const { channel, ...fields } of merged.values()) {
    const present = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Metric['fields'];
    if (Object.keys(present).length > 0) metrics.push({ name: 'nvr_channel', tags: { channel }, fields: present });
  }
  return metrics;
}
