import { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { t, type Lang, type TextKey } from './i18n.ts';
import { deviceFilter, deviceVariables } from './influxql.ts';
import { binaryStates, graph, grid, timeline } from './panels.ts';

// Video recorders: disks (profiles hikvision-isapi, hikvision-snmp, host-resources) and camera
// channels (hikvision-isapi only: the SNMP MIBs have nothing per channel).

const FILTER = deviceFilter('nvr');
const DISK_TAGS = `"site", "device", "disk"`;
const CHANNEL_TAGS = `"site", "device", "channel"`;

export function nvr(lang: Lang): DashboardBuilder {
  const tr = (k: TextKey) => t(lang, k);
  const health = binaryStates({ text: tr('faulty'), color: 'red' }, { text: tr('healthy'), color: 'green' });
  const recording = binaryStates({ text: tr('notRecordingState'), color: 'red' }, { text: tr('recording'), color: 'green' });
  const builder = new DashboardBuilder(tr('nvrTitle')).uid('nvr').tags(['belediye-izleme', 'nvr']).refresh('30s').time({ from: 'now-24h', to: 'now' }).timezone('browser');
  for (const variable of deviceVariables('nvr_disk', { label: tr('site') }, { name: 'nvr', label: tr('nvr') })) builder.withVariable(variable);
  return builder
    .withPanel(
      grid({
        title: tr('notRecording'),
        description: tr('notRecordingDesc'),
        query: `SELECT "recording", "online", "video_loss" FROM (SELECT last("recording") AS "recording", last("online") AS "online", last("video_loss") AS "video_loss" FROM "nvr_channel" WHERE ${FILTER} GROUP BY ${CHANNEL_TAGS}) WHERE "recording" = 0 GROUP BY ${CHANNEL_TAGS}`,
      }),
    )
    .withPanel(
      grid({
        title: tr('diskFaults'),
        description: tr('diskFaultsDesc'),
        columnUnits: { used_pct: 'percent' },
        query: `SELECT "status", "used_pct" FROM (SELECT last("ok") AS "ok", last("status") AS "status", last("used_pct") AS "used_pct" FROM "nvr_disk" WHERE ${FILTER} GROUP BY ${DISK_TAGS}) WHERE "ok" = 0 GROUP BY ${DISK_TAGS}`,
      }),
    )
    // min: one reading not recording (or not healthy) inside a bucket is enough to paint it red.
    .withPanel(timeline({ title: tr('recordingHistory'), height: 10, mappings: recording, query: `SELECT min("recording") AS "recording" FROM "nvr_channel" WHERE ${FILTER} GROUP BY time($__interval), ${CHANNEL_TAGS} fill(null)` }))
    .withPanel(timeline({ title: tr('diskHealth'), mappings: health, query: `SELECT min("ok") AS "ok" FROM "nvr_disk" WHERE ${FILTER} GROUP BY time($__interval), ${DISK_TAGS} fill(null)` }))
    .withPanel(graph({ title: tr('diskUsed'), unit: 'percent', query: `SELECT mean("used_pct") AS "used" FROM "nvr_disk" WHERE ${FILTER} GROUP BY time($__interval), ${DISK_TAGS} fill(null)` }))
    .withPanel(graph({ title: tr('diskFree'), unit: 'bytes', query: `SELECT mean("free_bytes") AS "free" FROM "nvr_disk" WHERE ${FILTER} GROUP BY time($__interval), ${DISK_TAGS} fill(null)` }))
    .withPanel(
      grid({
        title: tr('disks'),
        columnUnits: { used_pct: 'percent', capacity_bytes: 'bytes', free_bytes: 'bytes' },
        query: `SELECT last("ok") AS "ok", last("status") AS "status", last("used_pct") AS "used_pct", last("capacity_bytes") AS "capacity_bytes", last("free_bytes") AS "free_bytes" FROM "nvr_disk" WHERE ${FILTER} GROUP BY ${DISK_TAGS}`,
      }),
    )
    .withPanel(grid({ title: tr('channels'), query: `SELECT last("online") AS "online", last("recording") AS "recording", last("video_loss") AS "video_loss" FROM "nvr_channel" WHERE ${FILTER} GROUP BY ${CHANNEL_TAGS}` }));
}
