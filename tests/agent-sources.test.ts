import { describe, expect, it } from 'vitest';
import { batteryMetrics } from '../agent/sources/battery.ts';
import { cpuMetric, cpuTimesFromOsCpus, cpuTimesFromProcStat } from '../agent/sources/cpu.ts';
import { diskioMetric, parseDiskstats } from '../agent/sources/diskio.ts';
import { fanMetricsFromHwmon } from '../agent/sources/fan.ts';
import { fsMetric, mountsFromSiFsSize, parseProcMounts } from '../agent/sources/fs.ts';
import type { HwmonReading } from '../agent/sources/hwmon.ts';
import { memMetric, memMetricFromMeminfo, parseMeminfo } from '../agent/sources/mem.ts';
import { countersFromSiNetworkStats, isMonitoredIface, netMetric, netMetrics, type IfaceCounters } from '../agent/sources/net.ts';
import { swapMetricFromMeminfo, swapMetricFromSi } from '../agent/sources/swap.ts';
import { bootTimeMs, systemMetric } from '../agent/sources/system.ts';
import { tempMetricsFromHwmon, tempMetricsFromSi } from '../agent/sources/temp.ts';
import { ratePerSecond } from '../agent/sources/types.ts';
import { metricSchema, type Metric } from '../src/contract/schemas.ts';
import { fixtureJson, fixtureText } from './helpers/agent-fixtures.ts';

// Pure mapping of recorded outputs: /proc and /sys of a Debian server, systeminformation and
// os.cpus() of a Windows 11 PC. Every metric produced must pass the contract.
const valid = (metrics: readonly (Metric | undefined)[]) => {
  for (const m of metrics) expect(metricSchema.safeParse(m).success, JSON.stringify(m)).toBe(true);
};
type OsCpus = Parameters<typeof cpuTimesFromOsCpus>[0];

describe('cpu', () => {
  it('Linux server: usage from two /proc/stat readings (iowait is idle, steal and irq are busy)', () => {
    const a = cpuTimesFromProcStat(fixtureText('linux-server/proc-stat-a.txt'));
    const b = cpuTimesFromProcStat(fixtureText('linux-server/proc-stat-b.txt'));
    // Deltas: user 600, system 200, idle 1000 + iowait 200, softirq 200 → 2200 ticks, 1000 busy.
    const metric = cpuMetric(a, b, [1.24, 0.98, 0.77], 4);
    expect(metric).toEqual({ name: 'cpu', fields: { cores: 4, usage_pct: 45.45, user_pct: 27.27, system_pct: 9.09, load1: 1.24, load5: 0.98, load15: 0.77 } });
    valid([metric]);
  });

  it('Windows PC: usage from os.cpus(), interrupt time taken out of kernel time, no load average', () => {
    const a = cpuTimesFromOsCpus(fixtureJson<OsCpus>('windows-pc/os-cpus-a.json'), true);
    const b = cpuTimesFromOsCpus(fixtureJson<OsCpus>('windows-pc/os-cpus-b.json'), true);
    const metric = cpuMetric(a, b, null, 2);
    // user +10000, sys +4000 of which irq +500 → system +3500, irq +500, idle +26000: 40000 in all.
    expect(metric).toEqual({ name: 'cpu', fields: { cores: 2, usage_pct: 35, user_pct: 25, system_pct: 8.75 } });
    valid([metric]);
  });

  it('first reading and counters that went backwards give cores only, not a made-up usage', () => {
    const a = cpuTimesFromProcStat(fixtureText('linux-server/proc-stat-a.txt'));
    const b = cpuTimesFromProcStat(fixtureText('linux-server/proc-stat-b.txt'));
    expect(cpuMetric(undefined, a, null, 4)).toEqual({ name: 'cpu', fields: { cores: 4 } });
    expect(cpuMetric(b, a, null, 4)).toEqual({ name: 'cpu', fields: { cores: 4 } });
    expect(() => cpuTimesFromProcStat('intr 1 2 3\n')).toThrow(/no aggregate "cpu" line/);
  });
});

describe('mem and swap', () => {
  it('Linux server: /proc/meminfo, available (not free) memory counts as unused', () => {
    const info = parseMeminfo(fixtureText('linux-server/meminfo.txt'));
    const mem = memMetricFromMeminfo(info);
    expect(mem).toEqual({ name: 'mem', fields: { total_bytes: 32780420 * 1024, available_bytes: 12450120 * 1024, used_bytes: (32780420 - 12450120) * 1024, used_pct: 62.02 } });
    const swap = swapMetricFromMeminfo(info);
    expect(swap).toEqual({ name: 'swap', fields: { total_bytes: 8388604 * 1024, used_bytes: (8388604 - 6291452) * 1024, used_pct: 25 } });
    valid([mem, swap]);
  });

  it('old kernels without MemAvailable fall back to free + cache; a machine without swap shows 0 %', () => {
    const info = parseMeminfo('MemTotal: 1000 kB\nMemFree: 100 kB\nCached: 300 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n');
    expect(memMetricFromMeminfo(info).fields).toMatchObject({ available_bytes: 400 * 1024, used_pct: 60 });
    expect(swapMetricFromMeminfo(info).fields).toEqual({ total_bytes: 0, used_bytes: 0, used_pct: 0 });
  });

  it('Windows PC: memory from os totals, page file from si.mem()', () => {
    const mem = fixtureJson<{ total: number; available: number; swaptotal: number; swapused: number }>('windows-pc/si-mem.json');
    expect(memMetric(mem.total, mem.available).fields).toMatchObject({ used_bytes: 10893621248, used_pct: 64.03 });
    expect(swapMetricFromSi(mem)).toEqual({ name: 'swap', fields: { total_bytes: 2550136832, used_bytes: 117440512, used_pct: 4.61 } });
  });
});

describe('fs', () => {
  it('Linux server: real file systems only, spaces in mount points decoded, no snaps, overlays or duplicates', () => {
    const mounts = parseProcMounts(fixtureText('linux-server/mounts.txt'));
    expect(mounts.map((m) => `${m.mount} ${m.fstype}`)).toEqual(['/ ext4', '/boot/efi vfat', '/srv/yedek alani xfs', '/var/lib/postgresql ext4', '/mnt/arsiv cifs', '/var/lib/docker ext4']);
    const m = fsMetric(mounts[0]!, { bsize: 4096, blocks: 1000, bfree: 100, bavail: 50 });
    // Like df: reserved blocks (bfree − bavail) count as full.
    expect(m).toEqual({ name: 'fs', tags: { mount: '/' }, fields: { size_bytes: 4096000, used_bytes: 3686400, free_bytes: 204800, used_pct: 94.74, fstype: 'ext4' } });
    valid([m]);
  });

  it('Windows PC: drives from si.fsSize() without the CD drive and the empty card reader, statfs on the root', () => {
    expect(mountsFromSiFsSize(fixtureJson('windows-pc/si-fsSize.json'))).toEqual([
      { mount: 'C:', path: 'C:\\', fstype: 'ntfs' },
      { mount: 'D:', path: 'D:\\', fstype: 'ntfs' },
    ]);
  });
});

describe('diskio and net rates', () => {
  it('rates from counters; a counter that went backwards gives no rate', () => {
    expect(ratePerSecond(100, 300, 2000)).toBe(100);
    expect(ratePerSecond(300, 100, 2000)).toBeUndefined();
    expect(ratePerSecond(undefined, 100, 2000)).toBeUndefined();
    expect(ratePerSecond(100, 300, 0)).toBeUndefined();
  });

  it('Linux server: whole disks only (no partitions, md, dm or loop twice)', () => {
    const totals = parseDiskstats(fixtureText('linux-server/diskstats.txt'));
    expect(totals).toEqual({ reads: 2876121 + 2870110 + 912331, readBytes: (189220344 + 188912002 + 73012994) * 512, writes: 6120877 * 2 + 3120331, writeBytes: (412883290 * 2 + 281223312) * 512 });
    const later = { ...totals, readBytes: totals.readBytes + 10_485_760, reads: totals.reads + 250, writes: totals.writes + 40, writeBytes: totals.writeBytes + 409_600 };
    const metric = diskioMetric(totals, later, 10_000);
    expect(metric).toEqual({ name: 'diskio', fields: { read_bps: 1048576, write_bps: 40960, read_iops: 25, write_iops: 4 } });
    expect(diskioMetric(later, totals, 10_000)).toBeUndefined();
    expect(diskioMetric(undefined, totals, 0)).toBeUndefined();
    valid([metric]);
  });

  it('net: bits per second from the second reading on, none after a reset, no speed when unknown', () => {
    const a: IfaceCounters = { iface: 'eno1', up: true, speedMbps: 1000, rxBytes: 1000, txBytes: 500, rxErrors: 1, txErrors: 0, rxDropped: 2, txDropped: 0 };
    expect(netMetric(a, undefined, 0).fields).not.toHaveProperty('rx_bps');
    const second = netMetric({ ...a, rxBytes: 126_000 }, a, 10_000);
    expect(second).toEqual({ name: 'net', tags: { iface: 'eno1' }, fields: { up: true, speed_mbps: 1000, rx_bps: 100_000, tx_bps: 0, rx_errors: 1, tx_errors: 0, rx_dropped: 2, tx_dropped: 0 } });
    const reset = netMetric({ ...a, rxBytes: 10, up: false, speedMbps: -1 }, { ...a, rxBytes: 1e9 }, 10_000);
    expect(reset.fields).toMatchObject({ up: false, tx_bps: 0 });
    expect(reset.fields).not.toHaveProperty('rx_bps');
    expect(reset.fields).not.toHaveProperty('speed_mbps');
    valid([second, reset]);
  });

  it('net: container and VM plumbing is not a series (unbounded random names)', () => {
    expect(['eno1', 'ens192', 'bond0', 'br0', 'wlp2s0', 'Ethernet', 'Wi-Fi'].filter(isMonitoredIface)).toHaveLength(7);
    expect(['lo', 'veth3f2a1c9', 'docker0', 'br-4a1b2c3d4e5f', 'vnet12', 'cali8d1e2f', 'Loopback Pseudo-Interface 1'].filter(isMonitoredIface)).toEqual([]);
  });

  it('Windows PC: si.networkStats() over the slow cadence, Turkish adapter names kept', () => {
    const a = countersFromSiNetworkStats(fixtureJson('windows-pc/si-networkStats-a.json'));
    const b = countersFromSiNetworkStats(fixtureJson('windows-pc/si-networkStats-b.json'));
    const metrics = netMetrics(b, new Map(a.map((c) => [c.iface, c])), 300_000);
    expect(metrics.map((m) => m.tags?.iface)).toEqual(['Ethernet', 'Wi-Fi', 'Yerel Ağ Bağlantısı* 2']);
    expect(metrics[0]!.fields).toEqual({ up: true, rx_bps: 1_000_000, tx_bps: 200_000, rx_errors: 0, tx_errors: 0, rx_dropped: 0, tx_dropped: 0 });
    valid(metrics);
  });
});

describe('temp, fan, battery, system', () => {
  it('Linux server: hwmon sensors named as the data model says', () => {
    const readings = fixtureJson<HwmonReading[]>('linux-server/hwmon-readings.json');
    const temps = tempMetricsFromHwmon(readings.filter((r) => r.kind === 'temp'));
    expect(temps.map((m) => [m.tags?.sensor, m.fields.celsius])).toEqual([
      ['acpitz_temp1', 27.8],
      ['cpu', 61],
      ['cpu_core0', 58],
      ['cpu_core1', 60],
      ['chipset', 49.5],
      ['disk_nvme0', 42.9],
      ['disk_sda', 34],
    ]);
    const fans = fanMetricsFromHwmon(readings.filter((r) => r.kind === 'fan'));
    expect(fans).toEqual([
      { name: 'fan', tags: { sensor: 'fan2' }, fields: { rpm: 1450 } },
      { name: 'fan', tags: { sensor: 'processor_fan' }, fields: { rpm: 2210 } },
    ]);
    valid([...temps, ...fans]);
  });

  it('Windows PC: ACPI thermal zone from si.cpuTemperature(); nothing when the machine does not say', () => {
    expect(tempMetricsFromSi(fixtureJson('windows-pc/si-cpuTemperature.json'))).toEqual([{ name: 'temp', tags: { sensor: 'cpu' }, fields: { celsius: 45.1 } }]);
    expect(tempMetricsFromSi({ main: null, cores: [], chipset: null })).toEqual([]);
  });

  it('battery only where there is one; health from full-charge vs design capacity', () => {
    const laptop = batteryMetrics(fixtureJson('windows-pc/si-battery.json'));
    expect(laptop).toEqual([{ name: 'battery', tags: { battery: 'bat0' }, fields: { charge_pct: 86, charging: true, ac_connected: true, health_pct: 86.4 } }]);
    expect(batteryMetrics(fixtureJson('windows-pc/si-battery-desktop.json'))).toEqual([]);
    valid(laptop);
  });

  it('system: uptime, boot time rounded against jitter, process count when cheap', () => {
    expect(bootTimeMs(1_733_212_803_000, 3)).toBe(1_733_212_800_000);
    expect(bootTimeMs(1_733_212_804_400, 4.1)).toBe(1_733_212_800_000);
    expect(systemMetric(1_733_212_803_000, 3, 120).fields).toEqual({ uptime_s: 3, boot_time_ms: 1_733_212_800_000, processes: 120 });
    expect(systemMetric(1_733_212_803_000, 3, undefined).fields).not.toHaveProperty('processes');
  });
});
