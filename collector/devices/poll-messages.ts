import { eventMessageSchema, metricSchema, type DeviceKind, type DeviceMessage, type Metric } from '../../src/contract/schemas.ts';
import type { DeviceEntry } from './inventory.ts';
import type { DeviceEvent, PollOutcome } from './driver.ts';

// Pure: what one poll of a device means as contract messages. Every metric and event is
// validated with the same schemas as an agent's messages: a value a device made up (a tag of
// 500 characters, a field named "time") is refused alone and counted as a problem, the rest of
// the poll is kept.

export interface PollSummary {
  device: DeviceEntry;
  kind: DeviceKind;
  intervalS: number;
  ts: number;
  durationMs: number;
}

/** Fiber links are configuration: a point of a configured interface gets link=<far site>. */
export function tagLinks(metrics: Metric[], links: DeviceEntry['links']): Metric[] {
  if (links.length === 0) return metrics;
  const byIface = new Map(links.map((l) => [l.iface, l.to]));
  return metrics.map((m) => {
    const to = m.tags?.iface !== undefined ? byIface.get(m.tags.iface) : undefined;
    return to ? { ...m, tags: { ...m.tags, link: to } } : m;
  });
}

export function outcomeMessages(outcome: PollOutcome, summary: PollSummary): { messages: DeviceMessage[]; problems: string[] } {
  const problems = [...outcome.problems];
  const metrics: Metric[] = [];
  for (const metric of tagLinks(outcome.metrics, summary.device.links)) {
    const checked = metricSchema.safeParse(metric);
    if (checked.success) metrics.push(checked.data);
    else problems.push(`${metric.name}: ${checked.error.issues[0]?.message ?? 'invalid'}`);
  }
  const fieldCount = metrics.reduce((n, m) => n + Object.keys(m.fields).length, 0);
  metrics.push({ name: 'snmp_poll', fields: { duration_ms: summary.durationMs, fields: fieldCount, problems: problems.length } });
  const messages: DeviceMessage[] = [{ channel: 'metrics', body: { v: 1, ts: summary.ts, metrics } }];
  for (const event of outcome.events) {
    const checked = eventMessageSchema.safeParse(eventBody(event, summary.ts));
    if (checked.success) messages.push({ channel: 'event', body: checked.data });
    else problems.push(`event ${event.type}: ${checked.error.issues[0]?.message ?? 'invalid'}`);
  }
  return { messages, problems };
}

export function eventBody(event: DeviceEvent, ts: number) {
  return { v: 1 as const, ts, ...event };
}

export function stateMessage(summary: Omit<PollSummary, 'durationMs'>, online: boolean, reason?: string): DeviceMessage {
  return {
    channel: 'state',
    body: { v: 1, ts: summary.ts, state: online ? 'online' : 'offline', kind: summary.kind, intervalS: summary.intervalS, ...(reason ? { reason: reason.slice(0, 128) } : {}) },
  };
}
