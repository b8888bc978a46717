import { describe, expect, it } from 'vitest';
import { parseMdstat } from '../agent/hardware/raid.ts';
import { scannedDevices, smartMetric } from '../agent/hardware/smart.ts';
import { metricSchema } from '../src/contract/schemas.ts';
import { fixtureJson, fixtureText } from './helpers/agent-fixtures.ts';

// smartctl 7.3 JSON reports and /proc/mdstat of the Debian file server.

describe('SMART (smartctl -a -j)', () => {
  it('healthy ATA disk', () => {
    const metric = smartMetric(fixtureJson('smartctl/ata-healthy.json'));
    expect(metric).toEqual({ name: 'smart', tags: { disk: 'sda' }, fields: { passed: true, temperature_c: 34, power_on_hours: 21044, reallocated_sectors: 0, pending_sectors: 0 } });
    expect(metricSchema.safeParse(metric).success).toBe(true);
  });

  it('failing ATA disk: verdict, reallocated and pending sectors', () => {
    expect(smartMetric(fixtureJson('smartctl/ata-failing.json'))).toEqual({ name: 'smart', tags: { disk: 'sdb' }, fields: { passed: false, temperature_c: 47, power_on_hours: 45120, reallocated_sectors: 1288, pending_sectors: 16 } });
  });

  it('healthy and failing NVMe disks: media errors', () => {
    expect(smartMetric(fixtureJson('smartctl/nvme-healthy.json'))).toEqual({ name: 'smart', tags: { disk: 'nvme0' }, fields: { passed: true, temperature_c: 41, power_on_hours: 8123, media_errors: 0 } });
    expect(smartMetric(fixtureJson('smartctl/nvme-failing.json'))).toEqual({ name: 'smart', tags: { disk: 'nvme1' }, fields: { passed: false, temperature_c: 58, power_on_hours: 26101, media_errors: 73 } });
  });

  it('disks behind a MegaRAID controller get distinct tags', () => {
    expect(smartMetric(fixtureJson('smartctl/megaraid-ata.json'))?.tags).toEqual({ disk: 'bus/0:sat+megaraid,1' });
  });

  it('no verdict (CD drive), garbage or wrong types give nothing instead of a bad metric', () => {
    expect(smartMetric(fixtureJson('smartctl/cdrom-no-verdict.json'))).toBeUndefined();
    expect(smartMetric(undefined)).toBeUndefined();
    expect(smartMetric('smartctl: command failed')).toBeUndefined();
    expect(smartMetric({ device: { name: '/dev/sda' }, smart_status: { passed: 'yes' } })).toBeUndefined();
    const odd = smartMetric({ device: { name: '/dev/sda' }, smart_status: { passed: true }, temperature: { current: 'hot' }, ata_smart_attributes: { table: 'none' } });
    expect(odd).toEqual({ name: 'smart', tags: { disk: 'sda' }, fields: { passed: true } });
  });

  it('reads the device list of --scan-open, tolerating missing fields', () => {
    expect(scannedDevices(fixtureJson('smartctl/scan-open.json'))).toEqual([
      { name: '/dev/sda', type: 'sat' },
      { name: '/dev/sdb', type: 'sat' },
      { name: '/dev/nvme0', type: 'nvme' },
      { name: '/dev/bus/0', type: 'megaraid,1' },
    ]);
    expect(scannedDevices({ devices: [{ name: '/dev/sdc' }, { type: 'sat' }] })).toEqual([{ name: '/dev/sdc', type: 'auto' }]);
    expect(scannedDevices(null)).toEqual([]);
  });
});

describe('md RAID (/proc/mdstat)', () => {
  it('clean arrays', () => {
    expect(parseMdstat(fixtureText('linux-server/mdstat-clean.txt'))).toEqual([
      { name: 'raid', tags: { instance: 'md0' }, fields: { degraded: false, active_devices: 2, total_devices: 2, state: 'active, clean' } },
      { name: 'raid', tags: { instance: 'md1' }, fields: { degraded: false, active_devices: 3, total_devices: 3, state: 'active, clean' } },
    ]);
  });

  it('a failed mirror member, a RAID 5 rebuilding onto a spare, an inactive array', () => {
    const metrics = parseMdstat(fixtureText('linux-server/mdstat-degraded.txt'));
    expect(metrics).toEqual([
      { name: 'raid', tags: { instance: 'md0' }, fields: { degraded: true, active_devices: 1, total_devices: 2, state: 'active, degraded' } },
      { name: 'raid', tags: { instance: 'md1' }, fields: { degraded: true, active_devices: 2, total_devices: 3, state: 'active, degraded, recovery' } },
      { name: 'raid', tags: { instance: 'md127' }, fields: { degraded: true, active_devices: 0, total_devices: 0, state: 'inactive, degraded' } },
    ]);
    for (const m of metrics) expect(metricSchema.safeParse(m).success).toBe(true);
  });

  it('no arrays, or not an mdstat at all', () => {
    expect(parseMdstat('Personalities :\nunused devices: <none>\n')).toEqual([]);
    expect(parseMdstat('')).toEqual([]);
  });
});
