import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgentProcess } from './helpers/agent-process.ts';
import { startCollectorProcess, type CollectorProcess } from './helpers/collector-process.ts';
import { connectClient, publish } from './helpers/mqtt-client.ts';
import { startMosquitto, startVictoriaMetrics, waitFor, type ManagedProcess, type MosquittoServer, type VictoriaMetricsServer } from './helpers/servers.ts';

// The same ingest path behind an external Mosquitto (shared subscription), writing through the
// InfluxDB v2 write API (@influxdata/influxdb-client) into a real server that implements it.

describe('agent → Mosquitto → collector (external mode) → /api/v2/write', () => {
  let mosquitto: MosquittoServer;
  let vm: VictoriaMetricsServer;
  let collector: CollectorProcess;
  let agent: ManagedProcess;

  beforeAll(async () => {
    [mosquitto, vm] = await Promise.all([startMosquitto(), startVictoriaMetrics()]);
    collector = await startCollectorProcess({
      broker: { mode: 'external', url: mosquitto.url, clientId: 'collector-e2e', shareGroup: 'collectors' },
      storage: { type: 'influx-v2', url: vm.url, org: 'belediye', bucket: 'monitoring', token: 'unused-by-victoria-metrics' },
      // a long flush interval: the shutdown test below proves SIGTERM flushes what is held
      queue: { flushIntervalMs: 60_000, batchSize: 100_000 },
    });
    agent = startAgentProcess({ site: 'zabita', device: 'pc-ext', kind: 'pc', mqttUrl: mosquitto.url });
  });
  afterAll(async () => {
    await agent?.stop('SIGKILL');
    await collector?.stop('SIGKILL');
    await Promise.all([mosquitto?.stop(), vm?.stop()]);
  });

  it('receives the real agent through Mosquitto and flushes everything on SIGTERM', async () => {
    await waitFor('agent metrics counted by the collector', async () => (await collector.metric('collector_messages_in_total{channel="metrics"}')) >= 3, 30_000);
    const device = await connectClient(mosquitto.url, { clientId: 'sayac-01' });
    const base = Date.now();
    for (let i = 0; i < 50; i++) {
      await publish(device, 'muni/v1/zabita/sayac-01/metrics', { v: 1, ts: base + i, metrics: [{ name: 'cpu', fields: { usage_pct: i } }] });
    }
    device.end();
    await waitFor('50 kiosk messages accepted', async () => (await collector.metric('collector_messages_in_total{channel="metrics"}')) >= 53);
    await agent.stop('SIGTERM');
    await collector.stop('SIGTERM');
    expect(collector.process.child.exitCode).toBe(0);

    let kiosk: Awaited<ReturnType<VictoriaMetricsServer['exportSeries']>> = [];
    await waitFor('kiosk points in VictoriaMetrics', async () => {
      kiosk = await vm.exportSeries('{__name__="cpu_usage_pct",device="sayac-01"}');
      return kiosk[0]?.values.length === 50;
    });
    expect(kiosk[0]?.metric).toMatchObject({ site: 'zabita', device: 'sayac-01' });
    expect(kiosk[0]?.timestamps[0]).toBe(base);
    const agentSeries = await vm.exportSeries('{__name__="cpu_usage_pct",device="pc-ext"}');
    expect(agentSeries[0]?.metric).toMatchObject({ site: 'zabita', kind: 'pc' });
    // CPU usage needs two readings of /proc/stat, so the agent's first message carries none.
    expect(agentSeries[0]?.values.length).toBeGreaterThanOrEqual(2);
  });
});
