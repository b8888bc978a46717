import { Router } from 'express';
import type { AlertStore } from '../../alerts/alert-store.ts';
import type { SecurityStore } from '../../security/store.ts';

// Acknowledge links in notification mails: /ack/<alert id>.<signature>. Opening the link shows
// a page with a button; only the button (a POST) acknowledges, so a mail scanner that follows
// links does not acknowledge alerts on its own. The signature is an HMAC only the collector
// can make, so a link cannot be guessed for another alert.

export interface AckTokens {
  verifyAckToken(token: string): string | undefined;
}

const page = (title: string, body: string) =>
  `<!doctype html><html lang="tr"><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${title}</title><body style="font-family:sans-serif;max-width:40em;margin:2em auto">${body}</body></html>`;
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function ackRouter(tokens: AckTokens | undefined, store: AlertStore | undefined, security: SecurityStore): Router {
  const router = Router();
  const find = (token: string) => {
    const id = tokens?.verifyAckToken(token);
    return id ? store?.get(id) : undefined;
  };
  router.get('/ack/:token', (req, res) => {
    const alert = find(req.params.token);
    if (!alert) {
      res.status(404).type('html').send(page('Bulunamadı / Not found', '<p>Bu bağlantı geçersiz. / This link is not valid.</p>'));
      return;
    }
    const what = escapeHtml(`${alert.rule} — ${alert.labels.site} / ${alert.labels.device}${alert.labels.instance ? ` / ${alert.labels.instance}` : ''}`);
    const state = alert.ackAt ? `<p>Üstlenen / acknowledged by: ${escapeHtml(alert.ackBy ?? '')}</p>` : alert.state === 'firing' || alert.state === 'pending' ? `<form method="post"><button type="submit">Üstleniyorum / Acknowledge</button></form>` : `<p>Durum / state: ${escapeHtml(alert.state)}</p>`;
    res.type('html').send(page('Uyarı / Alert', `<h1>${what}</h1>${state}`));
  });
  router.post('/ack/:token', (req, res) => {
    const alert = find(req.params.token);
    if (!alert) {
      res.status(404).type('html').send(page('Bulunamadı / Not found', '<p>Bu bağlantı geçersiz. / This link is not valid.</p>'));
      return;
    }
    const actor = 'mail-link';
    const after = store!.acknowledge(alert.id, actor, Date.now());
    if (after?.ackBy === actor && !alert.ackAt) security.audit(actor, 'alert.acknowledge', alert.id, { via: 'link' });
    res.type('html').send(page('Üstlenildi / Acknowledged', `<p>Üstlenildi. Yükseltme ve tekrar bildirimleri durdu. / Acknowledged: escalation and repeats stopped.</p>`));
  });
  return router;
}
