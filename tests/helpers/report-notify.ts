import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';

/** A notify.yaml with one e-mail channel to a loopback SMTP server and one contact, Ahmet: the monthly report's recipient in tests. */
export function writeReportNotifyFile(path: string, smtpPort: number): void {
  writeFileSync(
    path,
    stringify({
      channels: { eposta: { type: 'email', host: '127.0.0.1', port: smtpPort, security: 'none', from: 'Belediye İzleme <izleme@igdir.bel.tr>' } },
      contacts: [{ id: 'ahmet', name: 'Ahmet Yılmaz', email: 'ahmet@igdir.bel.tr' }],
      teams: [{ id: 'bilgi-islem', name: 'Bilgi İşlem', members: ['ahmet'] }],
      routes: [{ team: 'bilgi-islem', offHours: { channels: ['eposta'], to: 'team' } }],
    }),
  );
}
