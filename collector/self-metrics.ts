import type { Point } from './model/point.ts';
import type { WriteQueueStats } from './storage/write-queue.ts';

// The collector's own health: counters and gauges exposed as Prometheus text on /metrics
// (format 0.0.4) and written to InfluxDB as the `collector` measurement.

type Labels = Record<string, string>;

export interface Counter {
  inc(labels?: Labels, by?: number): void;
  total(): number;
}

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  samples: () => [Labels, number][];
}

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const labelKey = (labels: Labels) => JSON.stringify(Object.entries(labels).sort());
const LATENCY_WINDOW = 200;

export class SelfMetrics {
  private readonly families = new Map<string, Family>();
  private queueStats: (() => WriteQueueStats) | undefined;
  private readonly latencies: number[] = [];

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    const values = new Map<string, [Labels, number]>();
    this.register({ name, help, type: 'counter', samples: () => [...values.values()] });
    return {
      inc(labels = {}, by = 1) {
        const unknown = Object.keys(labels).filter((k) => !labelNames.includes(k));
        if (unknown.length > 0) throw new Error(`${name}: unknown label ${unknown.join(', ')}`);
        const key = labelKey(labels);
        const entry = values.get(key) ?? [labels, 0];
        entry[1] += by;
        values.set(key, entry);
      },
      total: () => [...values.values()].reduce((sum, [, v]) => sum + v, 0),
    };
  }

  gauge(name: string, help: string, read: () => number): void {
    this.register({ name, help, type: 'gauge', samples: () => [[{}, read()]] });
  }

  /** Exposes the write queue's figures and keeps a sliding window of write latencies. */
  bindQueue(stats: () => WriteQueueStats): void {
    this.queueStats = stats;
    const q = () => stats();
    this.register({ name: 'collector_points_written_total', help: 'Points written to storage', type: 'counter', samples: () => [[{}, q().written]] });
    this.register({ name: 'collector_points_dropped_total', help: 'Points refused because the spool was full or could not be written', type: 'counter', samples: () => [[{}, q().dropped]] });
    this.register({ name: 'collector_points_quarantined_total', help: 'Points storage refused permanently (e.g. field type conflict)', type: 'counter', samples: () => [[{}, q().quarantined]] });
    this.register({ name: 'collector_write_errors_total', help: 'Failed write attempts', type: 'counter', samples: () => [[{}, q().writeErrors]] });
    this.register({ name: 'collector_spool_unreadable_total', help: 'Points of spool rows damaged on disk', type: 'counter', samples: () => [[{}, q().unreadable]] });
    this.gauge('collector_queue_depth', 'Points waiting to be written', () => q().depth);
    this.gauge('collector_spool_bytes', 'Bytes of points held in the durable spool', () => q().spoolBytes);
    this.gauge('collector_spool_full', '1 while new points are refused because the spool is full', () => (q().full ? 1 : 0));
    this.gauge('collector_write_latency_ms_p50', 'Median write latency over the last writes', () => this.latencyQuantile(0.5));
    this.gauge('collector_write_latency_ms_p99', '99th percentile write latency over the last writes', () => this.latencyQuantile(0.99));
  }

  observeWriteLatency(ms: number): void {
    this.latencies.push(ms);
    if (this.latencies.length > LATENCY_WINDOW) this.latencies.shift();
  }

  renderPrometheus(): string {
    const lines: string[] = [];
    for (const f of this.families.values()) {
      lines.push(`# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${f.name} ${f.type}`);
      for (const [labels, value] of f.samples()) {
        const rendered = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',');
        lines.push(`${f.name}${rendered ? `{${rendered}}` : ''} ${Number.isFinite(value) ? value : 'NaN'}`);
      }
    }
    return `${lines.join('\n')}\n`;
  }

  toPoints(now: number, instance: string): Point[] {
    const total = (name: string) => this.families.get(name)?.samples().reduce((s, [, v]) => s + v, 0) ?? 0;
    const q = this.queueStats?.();
    const latency = this.latencyQuantile(0.5);
    const fields: Point['fields'] = {
      messages_in: total('collector_messages_in_total'),
      messages_rejected: total('collector_messages_rejected_total'),
      points_written: q?.written ?? 0,
      points_dropped: q?.dropped ?? 0,
      write_errors: q?.writeErrors ?? 0,
      queue_depth: q?.depth ?? 0,
      spool_bytes: q?.spoolBytes ?? 0,
      spool_full: q?.full ?? false,
    };
    if (Number.isFinite(latency)) fields.write_latency_ms = latency;
    return [{ measurement: 'collector', tags: { instance }, fields, time: now }];
  }

  private latencyQuantile(q: number): number {
    if (this.latencies.length === 0) return Number.NaN;
    const sorted = [...this.latencies].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  }

  private register(family: Family): void {
    if (this.families.has(family.name)) throw new Error(`metric ${family.name} registered twice`);
    this.families.set(family.name, family);
  }
}
