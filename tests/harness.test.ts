import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInfluxDB, startMosquitto, startVictoriaMetrics, type InfluxServer, type MosquittoServer, type VictoriaMetricsServer } from './helpers/servers.ts';

// Proves the test harness itself starts the real servers every e2e test relies on.
describe('test harness', () => {
  let influx: InfluxServer;
  let vm: VictoriaMetricsServer;
  let mosquitto: MosquittoServer;
  beforeAll(async () => {
    [influx, vm, mosquitto] = await Promise.all([startInfluxDB(), startVictoriaMetrics(), startMosquitto()]);
  });
  afterAll(async () => {
    await Promise.all([influx?.stop(), vm?.stop(), mosquitto?.stop()]);
  });

  it('runs InfluxDB 1.x with the v1 write API and InfluxQL', async () => {
    await influx.createDatabase('h');
    const write = await fetch(`${influx.url}/write?db=h&precision=ms`, { method: 'POST', body: `t,site=a v=1 ${Date.now()}` });
    expect(write.status).toBe(204);
    const series = await influx.query('h', 'SELECT v FROM t');
    expect(series[0]?.values).toHaveLength(1);
  });

  it('runs VictoriaMetrics accepting /api/v2/write', async () => {
    const ts = Date.now();
    const write = await fetch(`${vm.url}/api/v2/write?org=o&bucket=b&precision=ms`, { method: 'POST', body: `t,site=a v=1 ${ts}` });
    expect(write.status).toBe(204);
    let rows: Awaited<ReturnType<VictoriaMetricsServer['exportSeries']>> = [];
    for (let i = 0; i < 50 && rows.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 200));
      rows = await vm.exportSeries('{__name__="t_v"}');
    }
    expect(rows[0]?.timestamps).toEqual([ts]);
  });

  it('runs Mosquitto', async () => {
    expect(mosquitto.url).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
  });
});
