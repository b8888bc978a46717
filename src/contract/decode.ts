import { channelSchemas, describeIssues, MAX_PAYLOAD_BYTES, type DeviceMessage } from './schemas.ts';
import { parseDeviceTopic, type ParsedTopic } from './topics.ts';

/** Why a message was refused; each reason is a counter in the collector's self-metrics. */
export const REJECT_REASONS = ['topic', 'size', 'json', 'schema'] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export type DecodeResult =
  | { ok: true; address: ParsedTopic; message: DeviceMessage }
  | { ok: false; reason: RejectReason; detail: string };

/** Pure: topic + raw payload → a validated message, or a reason. Never throws. */
export function decodeDeviceMessage(topic: string, payload: Uint8Array, maxBytes = MAX_PAYLOAD_BYTES): DecodeResult {
  const parsed = parseDeviceTopic(topic);
  if (!parsed.ok) return { ok: false, reason: 'topic', detail: parsed.reason };
  if (payload.byteLength > maxBytes) {
    return { ok: false, reason: 'size', detail: `payload of ${payload.byteLength} bytes exceeds the limit of ${maxBytes}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'));
  } catch (error) {
    return { ok: false, reason: 'json', detail: `not valid JSON: ${(error as Error).message}` };
  }
  const channel = parsed.topic.channel;
  const result = channelSchemas[channel].safeParse(json);
  if (!result.success) return { ok: false, reason: 'schema', detail: `${channel}: ${describeIssues(result.error)}` };
  return { ok: true, address: parsed.topic, message: { channel, body: result.data } as DeviceMessage };
}
