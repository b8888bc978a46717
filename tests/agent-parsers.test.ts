import { describe, expect, it } from 'vitest';
import { agentConfigSchema } from '../agent/config.ts';
import { parseMdstat } from '../agent/hardware/raid.ts';
import { smartMetric } from '../agent/hardware/smart.ts';
import { canonicalJson, inventoryMessage } from '../agent/inventory/collect.ts';
import { parseDpkg, parseRegUninstall, parseRpm } from '../agent/inventory/software.ts';
import { createMemoryQueue } from '../agent/queue/message-queue.ts';
import { batteryMetrics } from '../agent/sources/battery.ts';
import { cpuMetric } from '../agent/sources/cpu.ts';
import { diskioMetric, parseDiskstats } from '../agent/sources/diskio.ts';
import { fsMetric, parseProcMounts } from '../agent/sources/filesystems.ts';
import { parseMeminfo } from '../agent/sources/memory.ts';
import { netMetric, type IfaceCounters } from '../agent/sources/network.ts';
import { sensorMetrics } from '../agent/sources/sensors.ts';
import { bootTimeMs, systemMetric } from '../agent/sources/system.ts';
import { ratePerSecond } from '../agent/sources/types.ts';
import { isReboot } from '../agent/state.ts';
import { validateConfig } from '../src/config/load.ts';
import { metricSchema } from '../src/contract/schemas.ts';

// Recorded outputs of a Debian server and a Windows 11 PC of a municipality.
const MEMINFO = `MemTotal:       32780420 kB
MemFree:         1203340 kB
MemAvailable:   12450120 kB
Buffers:          402112 kB
Cached:         10211208 kB
SwapTotal:       8388604 kB
SwapFree:        6291452 kB
`;
const MOUNTS = `sysfs /sys sysfs rw,nosuid 0 0
proc /proc proc rw 0 0
/dev/mapper/vg-root / ext4 rw,relatime 0 0
/dev/sda1 /boot/efi vfat rw 0 0
tmpfs /run tmpfs rw 0 0
/dev/mapper/vg-yedek /yedek\\040alani xfs rw 0 0
/dev/loop3 /snap/core/1 squashfs ro 0 0
//nas01/arsiv /mnt/arsiv cifs rw 0 0
`;
const DISKSTATS = `   8       0 sda 1000 0 2000 0 500 0 4000 0 0 0 0
   8       1 sda1 900 0 1800 0 400 0 3000 0 0 0 0
 259       0 nvme0n1 200 0 400 0 100 0 800 0 0 0 0
   7       0 loop0 50 0 100 0 0 0 0 0 0 0 0
 253       0 dm-0 900 0 1800 0 400 0 3000 0 0 0 0
`;
const MDSTAT_DEGRADED = `Personalities : [raid1]
md0 : active raid1 sdb1[1](F) sda1[0]
      976630464 blocks super 1.2 [2/1] [U_]
      bitmap: 2/8 pages [8KB], 65536KB chunk

md1 : active raid1 sdd1[1] sdc1[0]
      1953382464 blocks super 1.2 [2/2] [UU]
      [==>..................]  resync = 12.6% (246145216/1953382464) finish=160.3min

unused devices: <none>
`;
const REG = `
HKEY_LOCAL_MACHINE\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{23170F69-40C1-2702-2301-000001000000}
    DisplayName    REG_SZ    7-Zip 23.01 (x64 edition)
    DisplayVersion    REG_SZ    23.01.00.0
    Publisher    REG_SZ    Igor Pavlov
    InstallDate    REG_SZ    20240312

HKEY_LOCAL_MACHINE\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\BelNet e-İmza
    DisplayName    REG_SZ    e-İmza Sürücüsü (AKİS)
    DisplayVersion    REG_SZ    2.4.1
    Publisher    REG_SZ    TÜBİTAK BİLGEM

HKEY_LOCAL_MACHINE\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\KB5034441
    DisplayName    REG_SZ    KB5034441
    ParentKeyName    REG_SZ    OperatingSystem

HKEY_LOCAL_MACHINE\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\Connection Manager
    SystemComponent    REG_DWORD    0x1
    DisplayName    REG_SZ    Connection Manager
`;

const valid = (m: unknown) => expect(metricSchema.safeParse(m).success, JSON.stringify(m)).toBe(true);

describe('agent sources (pure parts)', () => {
  it('parses /proc/meminfo into mem and swap', () => {
    const [mem, swap] = parseMeminfo(MEMINFO);
    expect(mem).toEqual({ name: 'mem', fields: { total_bytes: 32780420 * 1024, available_bytes: 12450120 * 1024, used_bytes: (32780420 - 12450120) * 1024, used_pct: 62.02 } });
    expect(swap?.fields).toMatchObject({ total_bytes: 8388604 * 1024, used_pct: 25 });
    [mem, swap].forEach(valid);
  });

  it('keeps real file systems only, and decodes spaces in mount points', () => {
    expect(parseProcMounts(MOUNTS)).toEqual([
      { mount: '/', fstype: 'ext4' },
      { mount: '/boot/efi', fstype: 'vfat' },
      { mount: '/yedek alani', fstype: 'xfs' },
      { mount: '/mnt/arsiv', fstype: 'cifs' },
    ]);
    const m = fsMetric({ mount: '/', fstype: 'ext4' }, { bsize: 4096, blocks: 1000, bfree: 100, bavail: 50 });
    expect(m.fields).toMatchObject({ size_bytes: 4096000, used_bytes: 3686400, free_bytes: 204800, used_pct: 94.74 });
    valid(m);
  });

  it('turns counters into rates, and gives no rate after a counter reset', () => {
    expect(ratePerSecond(100, 300, 2000)).toBe(100);
    expect(ratePerSecond(300, 100, 2000)).toBeUndefined();
    expect(ratePerSecond(undefined, 100, 2000)).toBeUndefined();
    const totals = parseDiskstats(DISKSTATS);
    expect(totals).toEqual({ reads: 1200, readBytes: 2400 * 512, writes: 600, writeBytes: 4800 * 512 });
    const later = { ...totals, readBytes: totals.readBytes + 1_048_576, reads: totals.reads + 100 };
    expect(diskioMetric(totals, later, 1000)?.fields).toMatchObject({ read_bps: 1048576, read_iops: 100, write_bps: 0 });
    expect(diskioMetric(undefined, totals, 0)).toBeUndefined();
  });

  it('reports network throughput in bits per second, state and errors', () => {
    const a: IfaceCounters = { iface: 'eno1', up: true, speedMbps: 1000, rxBytes: 1000, txBytes: 500, rxErrors: 1, txErrors: 0, rxDropped: 2, txDropped: 0 };
    const first = netMetric(a, undefined, 0);
    expect(first.fields).not.toHaveProperty('rx_bps');
    const second = netMetric({ ...a, rxBytes: 126_000, txBytes: 500 }, a, 10_000);
    expect(second).toEqual({ name: 'net', tags: { iface: 'eno1' }, fields: { up: true, speed_mbps: 1000, rx_bps: 100_000, tx_bps: 0, rx_errors: 1, tx_errors: 0, rx_dropped: 2, tx_dropped: 0 } });
    const rebooted = netMetric({ ...a, rxBytes: 10, up: false, speedMbps: -1 }, { ...a, rxBytes: 1e9 }, 10_000);
    expect(rebooted.fields).toMatchObject({ up: false });
    expect(rebooted.fields).not.toHaveProperty('rx_bps');
    expect(rebooted.fields).not.toHaveProperty('speed_mbps');
  });

  it('maps cpu, sensors, battery and system', () => {
    expect(cpuMetric({ currentLoad: 12.345, currentLoadUser: 10, currentLoadSystem: 2.345 }, null, 8)).toEqual({ name: 'cpu', fields: { usage_pct: 12.35, user_pct: 10, system_pct: 2.35, cores: 8 } });
    expect(cpuMetric({ currentLoad: 1, currentLoadUser: 1, currentLoadSystem: 0 }, [0.5, 0.4, 0.3], 2).fields).toMatchObject({ load1: 0.5, load15: 0.3 });
    const sensors = sensorMetrics([
      { chip: 'coretemp', kind: 'temp', label: 'Package id 0', value: 61000 },
      { chip: 'nct6775', kind: 'fan', label: 'fan2', value: 1450 },
    ]);
    expect(sensors).toEqual([
      { name: 'temp', tags: { sensor: 'cpu_package_id_0' }, fields: { celsius: 61 } },
      { name: 'fan', tags: { sensor: 'nct6775_fan2' }, fields: { rpm: 1450 } },
    ]);
    const laptop = { hasBattery: true, percent: 64, isCharging: false, acConnected: false, cycleCount: 312, maxCapacity: 40000, designedCapacity: 50000 } as never;
    expect(batteryMetrics(laptop)).toEqual([{ name: 'battery', tags: { battery: 'bat0' }, fields: { charge_pct: 64, charging: false, ac_connected: false, cycle_count: 312, health_pct: 80 } }]);
    expect(batteryMetrics({ hasBattery: false } as never)).toEqual([]);
    expect(bootTimeMs(1_700_000_003_000, 3)).toBe(1_700_000_000_000);
    expect(systemMetric(1_700_000_003_000, 3, 120).fields).toEqual({ uptime_s: 3, boot_time_ms: 1_700_000_000_000, processes: 120 });
    [...sensors, ...batteryMetrics(laptop)].forEach(valid);
  });

  it('sees a reboot only when the boot time moved by more than a minute', () => {
    expect(isReboot(undefined, 1000)).toBe(false);
    expect(isReboot(1_000_000, 1_010_000)).toBe(false);
    expect(isReboot(1_000_000, 1_000_000 + 3_600_000)).toBe(true);
  });
});

describe('hardware health', () => {
  it('maps a healthy ATA disk and a failing one from smartctl JSON', () => {
    const healthy = { device: { name: '/dev/sda' }, smart_status: { passed: true }, temperature: { current: 34 }, power_on_time: { hours: 21044 }, ata_smart_attributes: { table: [{ id: 5, raw: { value: 0 } }, { id: 197, raw: { value: 0 } }] } };
    const failing = { device: { name: '/dev/sdb' }, smart_status: { passed: false }, temperature: { current: 47 }, power_on_time: { hours: 45120 }, ata_smart_attributes: { table: [{ id: 5, raw: { value: 1288 } }, { id: 197, raw: { value: 16 } }] } };
    expect(smartMetric(healthy)).toEqual({ name: 'smart', tags: { disk: 'sda' }, fields: { passed: true, temperature_c: 34, power_on_hours: 21044, reallocated_sectors: 0, pending_sectors: 0 } });
    expect(smartMetric(failing)?.fields).toMatchObject({ passed: false, reallocated_sectors: 1288, pending_sectors: 16 });
  });

  it('maps an NVMe disk and ignores a report without a verdict', () => {
    const nvme = { device: { name: '/dev/nvme0' }, smart_status: { passed: true }, nvme_smart_health_information_log: { media_errors: 0, temperature: 41, power_on_hours: 8123 } };
    expect(smartMetric(nvme)).toEqual({ name: 'smart', tags: { disk: 'nvme0' }, fields: { passed: true, temperature_c: 41, power_on_hours: 8123, media_errors: 0 } });
    expect(smartMetric({ device: { name: '/dev/sr0' } })).toBeUndefined();
  });

  it('reads md RAID state from /proc/mdstat', () => {
    expect(parseMdstat(MDSTAT_DEGRADED)).toEqual([
      { name: 'raid', tags: { instance: 'md0' }, fields: { degraded: true, active_devices: 1, total_devices: 2, state: 'active, degraded' } },
      { name: 'raid', tags: { instance: 'md1' }, fields: { degraded: false, active_devices: 2, total_devices: 2, state: 'active, clean, resync' } },
    ]);
    expect(parseMdstat('Personalities :\nunused devices: <none>\n')).toEqual([]);
  });
});

describe('inventory', () => {
  it('lists Windows programs from the registry, without updates and system components', () => {
    expect(parseRegUninstall(REG)).toEqual([
      { name: '7-Zip 23.01 (x64 edition)', version: '23.01.00.0', publisher: 'Igor Pavlov', installDate: '20240312' },
      { name: 'e-İmza Sürücüsü (AKİS)', version: '2.4.1', publisher: 'TÜBİTAK BİLGEM' },
    ]);
  });

  it('lists dpkg and rpm packages', () => {
    expect(parseDpkg('openssh-server\t1:9.2p1-2\tDebian OpenSSH Maintainers <debian-ssh@lists.debian.org>\tii \nold-pkg\t1.0\tX <x@y>\trc \n')).toEqual([{ name: 'openssh-server', version: '1:9.2p1-2', publisher: 'Debian OpenSSH Maintainers' }]);
    expect(parseRpm('bash\t5.1.8-6.el9\tRed Hat, Inc.\ngpg-pubkey\td4082792-5b32db75\t(none)\n')).toEqual([
      { name: 'bash', version: '5.1.8-6.el9', publisher: 'Red Hat, Inc.' },
      { name: 'gpg-pubkey', version: 'd4082792-5b32db75' },
    ]);
  });

  it('hashes the same inventory the same, whatever the key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { f: 2, e: 1 }], c: undefined } })).toBe('{"a":{"d":[1,{"e":1,"f":2}]},"b":1}');
    const a = inventoryMessage({ system: { serial: 'X1', model: 'M' } }, 1_800_000_000_000);
    const b = inventoryMessage({ system: { model: 'M', serial: 'X1' } }, 1_800_000_000_001);
    const c = inventoryMessage({ system: { model: 'M', serial: 'X2' } }, 1_800_000_000_000);
    expect(a.hash).toBe(b.hash);
    expect(a.hash).not.toBe(c.hash);
    expect(() => inventoryMessage({ system: { serial: 'x'.repeat(300) } }, 1)).toThrow();
  });
});

describe('offline queue', () => {
  it('drops the oldest samples first, events last, and counts both', () => {
    const q = createMemoryQueue(3);
    const msg = (n: string, priority: 'sample' | 'event') => ({ topic: n, payload: n, retain: false, priority });
    q.push(msg('e1', 'event'));
    q.push(msg('s1', 'sample'));
    q.push(msg('s2', 'sample'));
    q.push(msg('s3', 'sample'));
    q.push(msg('e2', 'event'));
    expect([q.shift()?.topic, q.shift()?.topic, q.shift()?.topic]).toEqual(['e1', 's3', 'e2']);
    expect(q.takeDropped()).toEqual({ samples: 2, events: 0 });
    expect(q.takeDropped()).toEqual({ samples: 0, events: 0 });
    const events = createMemoryQueue(1);
    events.push(msg('e1', 'event'));
    events.push(msg('e2', 'event'));
    expect(events.takeDropped()).toEqual({ samples: 0, events: 1 });
  });
});

describe('agent configuration', () => {
  it('names the bad field', () => {
    expect(() => validateConfig(agentConfigSchema, { site: 'Merkez Bina', mqtt: { url: 'http://x' }, intervalS: 0 }, 'agent.yaml')).toThrow(/site: expected lower-case[\s\S]*intervalS: [\s\S]*mqtt\.url: expected mqtt:\/\//);
  });
  it('fills defaults', () => {
    const config = validateConfig(agentConfigSchema, { site: 'merkez', mqtt: { url: 'mqtt://collector:1883' } }, 'agent.yaml');
    expect(config).toMatchObject({ intervalS: 10, hardwareIntervalS: 300, collectUserName: false, mqtt: { rejectUnauthorized: true } });
    expect(config.device).toMatch(/^[a-z0-9]/);
  });
});
