import { defineConfig } from 'vitest/config';

// Tests start real servers (InfluxDB, Mosquitto, VictoriaMetrics, agents) on loopback;
// the machine has 2 cores, so files run in a small pool with generous timeouts.
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
