import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AlertStore, FLAP_COUNT } from '../collector/alerts/alert-store.ts';
import type { AlertChange } from '../collector/alerts/engine.ts';
import { renderNotification } from '../collector/alerts/notify-messages.ts';
import { loadRules } from '../collector/alerts/rules-loader.ts';
import { tempDir } from './helpers/servers.ts';

// The alert store (episodes, history, flapping, what was notified) and the notification texts,
// on a real SQLite file.

const T0 = Date.UTC(2026, 10, 29, 7, 0, 0);
const MIN = 60_000;
const rule = loadRules().find((r) => r.id === 'ups_on_battery')!;
const labels = { site: 'kultur-merkezi', device: 'ups-giris', kind: 'ups', instance: '' };
const key = `ups_on_battery|kultur-merkezi|ups-giris|`;
const change = (to: AlertChange['to'], since: number, at: number): AlertChange => ({ alert: { id: key, rule: rule.id, labels, state: to === 'firing' || to === 'resolved' ? 'firing' : 'pending', since, firedAt: since, value: 1 }, to, at });

describe('alert store', () => {
  it('keeps one row per episode with its history, and marks an alert flapping on its fourth firing within 30 minutes', () => {
    const store = AlertStore.open(join(tempDir('alerts'), 'alerts.sqlite'));
    const episodes = [];
    for (let i = 0; i < FLAP_COUNT; i++) {
      const since = T0 + i * 5 * MIN;
      episodes.push(store.apply(change('firing', since, since), rule));
      store.apply(change('resolved', since, since + 2 * MIN), rule);
    }
    expect(episodes.map((e) => e.flapping)).toEqual([false, false, false, true]);
    expect(new Set(episodes.map((e) => e.id)).size).toBe(FLAP_COUNT);
    expect(store.history(episodes[0]!.id).map((h) => h.transition)).toEqual(['firing', 'resolved']);
    // Much later the same condition is an ordinary alert again.
    expect(store.apply(change('firing', T0 + 3 * 60 * MIN, T0 + 3 * 60 * MIN), rule).flapping).toBe(false);
    store.close();
  });

  it('knows what a restart must still send, survives reopening, and acknowledges only active alerts', () => {
    const path = join(tempDir('alerts'), 'alerts.sqlite');
    const store = AlertStore.open(path);
    const firing = store.apply(change('firing', T0, T0), rule);
    expect(store.unnotified().map((a) => a.id)).toEqual([firing.id]);
    store.markNotified([firing.id], 'notified', T0 + 1000);
    expect(store.unnotified()).toEqual([]);
    store.close();
    const reopened = AlertStore.open(path);
    expect(reopened.activeForEngine()).toEqual([{ id: key, rule: 'ups_on_battery', labels, state: 'firing', since: T0, firedAt: T0, value: 1 }]);
    expect(reopened.acknowledge(firing.id, 'token:noc', T0 + 2000)).toMatchObject({ ackBy: 'token:noc', ackAt: T0 + 2000 });
    expect(reopened.acknowledge(firing.id, 'token:other', T0 + 3000)).toMatchObject({ ackBy: 'token:noc' });
    reopened.apply(change('resolved', T0, T0 + 4000), rule);
    expect(reopened.unnotified().map((a) => [a.id, a.state])).toEqual([[firing.id, 'resolved']]);
    reopened.close();
  });
});

describe('notification texts', () => {
  it('are Turkish or English, name the place and time, escape HTML and carry the acknowledge link', () => {
    const store = AlertStore.open(':memory:');
    const alert = store.apply({ ...change('firing', T0, T0), alert: { ...change('firing', T0, T0).alert, labels: { ...labels, device: 'ups<script>' } } }, rule);
    const tr = renderNotification('firing', [{ alert, rule, consequences: 12 }], T0, { language: 'tr', timezone: 'Europe/Istanbul', ackUrl: (id) => `https://izleme/ack/${id}` });
    expect(tr.subject).toBe('[KRİTİK] kultur-merkezi / ups<script>: şebeke elektriği kesildi, UPS aküden besliyor (+12 cihaz bundan etkileniyor)');
    expect(tr.text).toContain('29.11.2026 10:00');
    expect(tr.text).toContain(`Üstlen: https://izleme/ack/${alert.id}`);
    expect(tr.html).toContain('ups&lt;script&gt;');
    expect(tr.html).not.toContain('<script>');
    const en = renderNotification('escalation', [{ alert, rule }], T0, { language: 'en', timezone: 'Europe/Istanbul' });
    expect(en.subject.startsWith('[ESCALATED] kultur-merkezi')).toBe(true);
    expect(en.text).toMatch(/^Nobody has acknowledged it\./);
    expect(en.short).toMatch(/^ESCALATED: /);
    store.close();
  });
});
