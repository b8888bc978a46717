import { describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { ConfigError } from '../src/config/load.ts';
import { normalisePhone, parseEvery, parseRouting, type Team } from '../collector/alerts/routing-schema.ts';
import { escalationFor, isWorkingHours, maintenanceFor, onDutyContact, recipientsFor, routeFor, silenceMatches, type ChannelKinds, type RoutedAlert } from '../collector/alerts/routing.ts';

// Routing is pure (a parsed file and an instant in, people and addresses out), so these tests
// need no peer: they feed instants given in UTC and check the Istanbul-local outcome. Istanbul
// has been UTC+3 all year since 2016, so 05:30Z is 08:30 there in winter and summer alike.

const FILE = `
timezone: Europe/Istanbul
channels:
  eposta: { type: email }
  sms: { type: netgsm }
  sohbet: { type: webhook }
contacts:
  - { id: ahmet, name: "Ahmet Yılmaz", email: ahmet@belediye.gov.tr, phone: "+90 532 123 45 67", language: tr }
  - { id: ayse, name: "Ayşe Demir", email: ayse@belediye.gov.tr, phone: "0 (533) 765 43 21" }
  - { id: zeynep, name: "Zeynep Çelik", email: zeynep@belediye.gov.tr, language: en }
  - { id: mehmet, name: "Mehmet Öztürk", phone: "05051112233", webhook: "https://sohbet.belediye.gov.tr/hooks/mehmet" }
  - { id: kemal, name: "Kemal Şahin", email: kemal@belediye.gov.tr, phone: "532 000 11 22" }
teams:
  - id: donanim
    name: Donanım
    members: [ahmet, ayse, zeynep]
    manager: mehmet
    workingHours: { days: [mon, tue, wed, thu, fri], from: "08:30", to: "17:30" }
    holidays: ["2026-10-29", "2026-10-28T13:00"]
    onDuty:
      rotation: weekly
      handoff: "2026-11-02T08:30"
      order: [ahmet, ayse, zeynep]
      overrides:
        - { from: "2026-11-11T08:30", to: "2026-11-12T08:30", contact: mehmet }
  - id: bilgi-islem
    name: Bilgi İşlem
    members: [kemal]
    onDuty: { rotation: daily, handoff: "2026-11-02T08:30", order: [kemal, ahmet] }
routes:
  - match: { categories: [power, hardware], severities: [critical, warning] }
    team: donanim
    workingHours: { channels: [eposta], to: team }
    offHours: { channels: [eposta, sms], to: onDuty }
    groupWait: 10s
    repeat: 4h
    escalate: { after: 15m, to: manager, channels: [sms] }
  - match: { sites: [itfaiye], kinds: [camera, nvr] }
    team: bilgi-islem
    offHours: { channels: [sms, sohbet], to: [kemal, mehmet] }
    resolved: false
  - team: bilgi-islem
    offHours: { channels: [eposta], to: onDuty }
maintenance:
  - { id: pazar-yedek, devices: [merkez/srv-yedek], every: "sun 02:00-04:00", reason: "haftalık bakım" }
  - { id: fiber-calisma, sites: [itfaiye], from: "2026-12-01T22:00", to: "2026-12-02T02:00", reason: "Türk Telekom fiber çalışması" }
  - { id: gece-yedek, sites: [zabita], every: "sat 23:00-01:00", reason: "gece yedeği" }
`;

const routing = parseRouting(FILE, 'bildirim.yaml');
const TZ = 'Europe/Istanbul';
const utc = (iso: string) => Date.parse(iso);
const team = (id: string): Team => routing.teams.find((t) => t.id === id)!;
const KINDS: ChannelKinds = new Map([
  ['eposta', 'email'],
  ['sms', 'phone'],
  ['sohbet', 'url'],
]);
const alert = (over: Partial<RoutedAlert>): RoutedAlert => ({ category: 'power', site: 'merkez', device: 'ups1', kind: 'ups', severity: 'critical', ...over });

/** The file with one change, through the real parser: returns the error text (or '' when it parsed). */
function errorOf(change: (raw: any) => void): string {
  const raw = parseYaml(FILE);
  change(raw);
  try {
    parseRouting(stringify(raw), 'bildirim.yaml');
    return '';
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
}

describe('the notification file', () => {
  it('normalises phone numbers to E.164, keeps the Turkish names, and fills the defaults', () => {
    expect(routing.contacts.map((c) => [c.id, c.phone])).toEqual([
      ['ahmet', '+905321234567'],
      ['ayse', '+905337654321'],
      ['zeynep', undefined],
      ['mehmet', '+905051112233'],
      ['kemal', '+905320001122'],
    ]);
    expect(routing.contacts[1]).toMatchObject({ name: 'Ayşe Demir', language: 'tr' });
    expect(routing.routes[0]).toMatchObject({ groupWait: 10_000, repeat: 14_400_000, resolved: true, escalate: { after: 900_000, to: 'manager' } });
    expect(routing.routes[2]).toMatchObject({ groupWait: 30_000, repeat: 14_400_000, match: {} });
    expect(routing.routes[1]!.resolved).toBe(false);
    const raw = parseYaml(FILE);
    delete raw.timezone;
    expect(parseRouting(stringify(raw), 'x.yaml').timezone).toBe('Europe/Istanbul');
  });

  it('reads Turkish, foreign and sloppy phone numbers and refuses what is not one', () => {
    const good: [string, string][] = [
      ['+90 532 123 45 67', '+905321234567'],
      ['0532 123 45 67', '+905321234567'],
      ['0 (532) 123-45-67', '+905321234567'],
      ['(0532) 123 45 67', '+905321234567'],
      ['532 123 45 67', '+905321234567'],
      ['0090 532 123 45 67', '+905321234567'],
      ['+90 312 213 29 65', '+903122132965'],
      ['0850 222 00 00', '+908502220000'],
      ['+49 30 1234567', '+49301234567'],
      ['0049 30 1234567', '+49301234567'],
    ];
    for (const [text, e164] of good) expect(normalisePhone(text), text).toBe(e164);
    const bad = ['+90 532 123 45', '+90 0532 123 45 67', '0532 123 45 67 8', '+90 132 123 45 67', '444 12 34', 'abc', '+90 532 123 45 67; rm -rf /', '', '+', '++905321234567', '+0 123 456 789', '+1234567890123456', '0532-ABC-4567', '５３２１２３４５６７'];
    for (const text of bad) expect(normalisePhone(text), text).toBeUndefined();
  });

  it('names the field of each mistake', () => {
    expect(errorOf((raw) => raw.teams[1].onDuty.order.push('ayse2'))).toContain('teams[1].onDuty.order[2]: no contact "ayse2"');
    expect(errorOf((raw) => (raw.teams[0].members[1] = 'ayse2'))).toContain('teams[0].members[1]: no contact "ayse2"');
    expect(errorOf((raw) => (raw.teams[0].manager = 'mudur'))).toContain('teams[0].manager: no contact "mudur"');
    expect(errorOf((raw) => (raw.teams[0].onDuty.overrides[0].contact = 'x'))).toContain('teams[0].onDuty.overrides[0].contact: no contact "x"');
    expect(errorOf((raw) => (raw.contacts[0].phone = '+90 532 123 45'))).toContain('contacts[0].phone: expected a phone number like "+90 532 123 45 67"');
    expect(errorOf((raw) => (raw.contacts[0].email = 'ahmet@'))).toContain('contacts[0].email: expected an e-mail address');
    expect(errorOf((raw) => (raw.contacts[3].webhook = 'ftp://x'))).toContain('contacts[3].webhook: expected an http(s) URL');
    expect(errorOf((raw) => (raw.contacts[2] = { id: 'zeynep', name: 'Zeynep' }))).toContain('contacts[2]: a contact needs at least one of email, phone, webhook');
    expect(errorOf((raw) => (raw.contacts[4].id = 'ahmet'))).toContain('contacts[4].id: contact "ahmet" is defined twice');
    expect(errorOf((raw) => raw.routes.pop())).toContain('routes[1].match: the last route must be a catch-all');
    expect(errorOf((raw) => raw.routes.unshift({ team: 'donanim', offHours: { channels: ['eposta'], to: 'team' } }))).toContain('routes[0].match: matches every alert');
    expect(errorOf((raw) => (raw.routes[0].team = 'guvenlik'))).toContain('routes[0].team: no team "guvenlik"');
    expect(errorOf((raw) => (raw.routes[0].offHours.channels[1] = 'sms2'))).toContain('routes[0].offHours.channels[1]: no channel "sms2"');
    expect(errorOf((raw) => (raw.routes[1].offHours.to = ['kemal', 'x']))).toContain('routes[1].offHours.to[1]: no contact "x"');
    expect(errorOf((raw) => (raw.routes[1].offHours.to = 'herkes'))).toContain('routes[1].offHours.to: expected "team", "onDuty", "manager" or a list of contact ids');
    expect(errorOf((raw) => delete raw.teams[1].onDuty)).toContain('routes[2].offHours.to: team "bilgi-islem" has no onDuty rotation');
    expect(errorOf((raw) => delete raw.teams[0].manager)).toContain('routes[0].escalate.to: team "donanim" has no manager');
    expect(errorOf((raw) => (raw.routes[1].workingHours = { channels: ['sms'], to: 'team' }))).toContain('routes[1].workingHours: team "bilgi-islem" has no workingHours');
    expect(errorOf((raw) => (raw.routes[0].groupWait = '10 saniye'))).toContain('routes[0].groupWait: expected a duration');
    expect(errorOf((raw) => (raw.routes[0].match.kinds = ['toaster']))).toContain('routes[0].match.kinds[0]');
    expect(errorOf((raw) => (raw.maintenance[0].every = 'sunday 02:00-04:00'))).toContain('maintenance[0].every: expected "sun 02:00-04:00"');
    expect(errorOf((raw) => (raw.maintenance[0].from = '2026-12-01T22:00'))).toContain('maintenance[0].every: give either every or from/to, not both');
    expect(errorOf((raw) => delete raw.maintenance[1].to)).toContain('maintenance[1].to: give from and to');
    expect(errorOf((raw) => (raw.maintenance[1].to = '2026-12-01T21:00'))).toContain('maintenance[1].to: to must be after from');
    expect(errorOf((raw) => delete raw.maintenance[0].devices)).toContain('maintenance[0].sites: name the sites or devices');
    expect(errorOf((raw) => (raw.maintenance[0].devices = ['srv-yedek']))).toContain('maintenance[0].devices[0]: expected "site/device"');
    expect(errorOf((raw) => Object.assign(raw.teams[0].workingHours, { from: '22:00', to: '06:00' }))).toContain('teams[0].workingHours.to: to must be after from: working hours do not cross midnight');
    expect(errorOf((raw) => (raw.teams[0].workingHours.from = '8:30'))).toContain('teams[0].workingHours.from: expected a time of day like "08:30"');
    expect(errorOf((raw) => (raw.teams[0].holidays[0] = '2026-02-30'))).toContain('teams[0].holidays[0]: expected a date like "2026-10-29"');
    expect(errorOf((raw) => (raw.teams[0].onDuty.handoff = 'pazartesi 08:30'))).toContain('teams[0].onDuty.handoff: expected a local date and time');
    expect(errorOf((raw) => (raw.teams[0].onDuty.rotation = 'monthly'))).toContain('teams[0].onDuty.rotation');
    expect(errorOf((raw) => (raw.teams[0].onDuty.overrides[0].to = '2026-11-11T08:30'))).toContain('teams[0].onDuty.overrides[0].to: to must be after from');
    expect(errorOf((raw) => (raw.teams[0].onduty = raw.teams[0].onDuty))).toContain('teams[0]: Unrecognized key: "onduty"');
    expect(errorOf((raw) => (raw.timezone = 'Europe/Ankara'))).toContain('timezone: expected an IANA time zone like "Europe/Istanbul"');
  });

  it('refuses files that are not routing files at all with a ConfigError, not a crash', () => {
    for (const text of ['just text', '- a\n- b', 'routes: 5', 'contacts: [5]\nteams: [null]\nroutes: [{}]', '{', `${FILE}\nextra: {`]) {
      expect(() => parseRouting(text, 'bad.yaml'), text).toThrow(ConfigError);
    }
  });
});

describe('maintenance schedules', () => {
  it('read "every" as days and a time range', () => {
    expect(parseEvery('sun 02:00-04:00')).toEqual({ kind: 'weekly', days: [0], from: 120, to: 240 });
    expect(parseEvery('daily 01:00-01:30')).toEqual({ kind: 'weekly', days: [0, 1, 2, 3, 4, 5, 6], from: 60, to: 90 });
    expect(parseEvery('mon,wed 22:00-23:00')).toEqual({ kind: 'weekly', days: [1, 3], from: 1320, to: 1380 });
    expect(parseEvery('mon-fri 12:00-13:00')?.days).toEqual([1, 2, 3, 4, 5]);
    expect(parseEvery('fri-mon 00:00-06:00')?.days).toEqual([0, 1, 5, 6]);
    for (const bad of ['sunday 02:00-04:00', 'sun 2:00-4:00', 'sun 02:00-02:00', 'sun 25:00-26:00', 'sun,,mon 02:00-04:00', 'mon-tue-wed 01:00-02:00', '', 'sun 02:00 - 04:00', 'paz 02:00-04:00', 'sun 02:00-04:00 extra']) {
      expect(parseEvery(bad), bad).toBeUndefined();
    }
  });
});

describe('working hours (08:30–17:30 Istanbul, Monday to Friday)', () => {
  const donanim = team('donanim');

  it('start at 08:30 and end at 17:30 local time', () => {
    expect(isWorkingHours(donanim, utc('2026-11-03T05:29:59Z'), TZ)).toBe(false); // Tuesday 08:29:59
    expect(isWorkingHours(donanim, utc('2026-11-03T05:30:00Z'), TZ)).toBe(true); // 08:30
    expect(isWorkingHours(donanim, utc('2026-11-03T14:29:59Z'), TZ)).toBe(true); // 17:29:59
    expect(isWorkingHours(donanim, utc('2026-11-03T14:30:00Z'), TZ)).toBe(false); // 17:30
    expect(isWorkingHours(donanim, utc('2026-11-07T09:00:00Z'), TZ)).toBe(false); // Saturday 12:00
    // A UTC date that is already the next local day: Friday 21:30Z is Saturday 00:30 in Istanbul.
    expect(isWorkingHours(donanim, utc('2026-11-06T21:30:00Z'), TZ)).toBe(false);
  });

  it('stay at UTC+3 in summer (no DST) while a DST zone moves with its clock', () => {
    expect(isWorkingHours(donanim, utc('2026-07-07T05:29:00Z'), TZ)).toBe(false);
    expect(isWorkingHours(donanim, utc('2026-07-07T05:30:00Z'), TZ)).toBe(true);
    // The same team read in Berlin time: 08:30 is 07:30Z in winter (CET) and 06:30Z in summer (CEST).
    expect(isWorkingHours(donanim, utc('2026-11-03T07:29:00Z'), 'Europe/Berlin')).toBe(false);
    expect(isWorkingHours(donanim, utc('2026-11-03T07:30:00Z'), 'Europe/Berlin')).toBe(true);
    expect(isWorkingHours(donanim, utc('2026-07-07T06:30:00Z'), 'Europe/Berlin')).toBe(true);
  });

  it('do not include an official holiday, nor the afternoon of the half day before it', () => {
    expect(isWorkingHours(donanim, utc('2026-10-29T09:00:00Z'), TZ)).toBe(false); // Thursday, Cumhuriyet Bayramı
    expect(isWorkingHours(donanim, utc('2026-10-28T09:59:00Z'), TZ)).toBe(true); // Wednesday 12:59, arife morning
    expect(isWorkingHours(donanim, utc('2026-10-28T10:00:00Z'), TZ)).toBe(false); // 13:00, the half day off begins
    expect(isWorkingHours(donanim, utc('2026-10-30T06:00:00Z'), TZ)).toBe(true); // Friday after: back at work
  });

  it('end a half day off at midnight', () => {
    const raw = parseYaml(FILE);
    raw.teams[0].holidays = ['2026-11-05T13:00'];
    const halfDay = parseRouting(stringify(raw), 'x.yaml').teams[0]!;
    expect(isWorkingHours(halfDay, utc('2026-11-05T09:59:00Z'), TZ)).toBe(true); // Thursday 12:59
    expect(isWorkingHours(halfDay, utc('2026-11-05T10:00:00Z'), TZ)).toBe(false); // 13:00
    expect(isWorkingHours(halfDay, utc('2026-11-06T05:30:00Z'), TZ)).toBe(true); // Friday 08:30
    expect(isWorkingHours(halfDay, utc('2026-11-06T10:00:00Z'), TZ)).toBe(true); // Friday 13:00
  });

  it('never apply to a team without working hours', () => {
    expect(isWorkingHours(team('bilgi-islem'), utc('2026-11-03T07:00:00Z'), TZ)).toBe(false);
  });
});

describe('on duty (nöbet)', () => {
  const donanim = team('donanim');
  const duty = (iso: string) => onDutyContact(donanim, utc(iso), TZ);

  it('hands over weekly on Monday 08:30, round the list, also before the first handoff', () => {
    expect(duty('2026-11-02T05:29:59Z')).toBe('zeynep'); // Monday 08:29:59: last week's person
    expect(duty('2026-11-02T05:30:00Z')).toBe('ahmet');
    expect(duty('2026-11-08T21:30:00Z')).toBe('ahmet'); // Monday 00:30 local, still Ahmet's week
    expect(duty('2026-11-09T05:29:59Z')).toBe('ahmet');
    expect(duty('2026-11-09T05:30:00Z')).toBe('ayse');
    expect(duty('2026-11-16T05:30:00Z')).toBe('zeynep');
    expect(duty('2026-11-23T05:30:00Z')).toBe('ahmet');
    expect(duty('2026-10-26T05:30:00Z')).toBe('zeynep');
    expect(duty('2026-10-19T05:30:00Z')).toBe('ayse');
  });

  it('gives a sick day to the override, then back to the rotation', () => {
    expect(duty('2026-11-11T05:29:00Z')).toBe('ayse');
    expect(duty('2026-11-11T05:30:00Z')).toBe('mehmet');
    expect(duty('2026-11-12T05:29:00Z')).toBe('mehmet');
    expect(duty('2026-11-12T05:30:00Z')).toBe('ayse');
  });

  it('lets a later override win over an earlier one it overlaps', () => {
    const raw = parseYaml(FILE);
    raw.teams[0].onDuty.overrides.push({ from: '2026-11-11T18:00', to: '2026-11-11T22:00', contact: 'zeynep' });
    const swapped = parseRouting(stringify(raw), 'x.yaml').teams[0]!;
    expect(onDutyContact(swapped, utc('2026-11-11T14:59:00Z'), TZ)).toBe('mehmet');
    expect(onDutyContact(swapped, utc('2026-11-11T15:00:00Z'), TZ)).toBe('zeynep');
    expect(onDutyContact(swapped, utc('2026-11-11T19:00:00Z'), TZ)).toBe('mehmet');
  });

  it('hands over daily', () => {
    const bilgiIslem = team('bilgi-islem');
    expect(onDutyContact(bilgiIslem, utc('2026-11-03T05:29:00Z'), TZ)).toBe('kemal');
    expect(onDutyContact(bilgiIslem, utc('2026-11-03T05:30:00Z'), TZ)).toBe('ahmet');
    expect(onDutyContact(bilgiIslem, utc('2026-11-04T05:30:00Z'), TZ)).toBe('kemal');
  });
});

describe('routes', () => {
  it('take the first match and fall through to the catch-all', () => {
    expect(routeFor(alert({}), routing)).toBe(routing.routes[0]);
    expect(routeFor(alert({ category: 'hardware', severity: 'warning', kind: 'server' }), routing)).toBe(routing.routes[0]);
    expect(routeFor(alert({ severity: 'info' }), routing)).toBe(routing.routes[2]);
    expect(routeFor(alert({ category: 'cameras', site: 'itfaiye', device: 'nvr1', kind: 'nvr', severity: 'warning' }), routing)).toBe(routing.routes[1]);
    expect(routeFor(alert({ category: 'cameras', site: 'itfaiye', device: 'sw1', kind: 'switch' }), routing)).toBe(routing.routes[2]);
    // A power alert from a fire-station NVR matches both: the earlier route wins.
    expect(routeFor(alert({ site: 'itfaiye', device: 'nvr1', kind: 'nvr' }), routing)).toBe(routing.routes[0]);
    expect(routeFor(alert({ category: 'bilinmeyen' }), routing)).toBe(routing.routes[2]);
  });

  it('match single devices as site/device', () => {
    const raw = parseYaml(FILE);
    raw.routes[1].match = { devices: ['merkez/srv-yedek'] };
    const byDevice = parseRouting(stringify(raw), 'x.yaml');
    expect(routeFor(alert({ category: 'systems', device: 'srv-yedek' }), byDevice)).toBe(byDevice.routes[1]);
    expect(routeFor(alert({ category: 'systems', site: 'itfaiye', device: 'srv-yedek' }), byDevice)).toBe(byDevice.routes[2]);
  });
});

describe('recipients', () => {
  const addresses = (r: { deliveries: { contactId: string; channel: string; address: string; language: string }[] }) => r.deliveries.map((d) => `${d.contactId}/${d.channel}/${d.address}/${d.language}`);

  it('during working hours: every team member by e-mail', () => {
    const r = recipientsFor(alert({}), routing, utc('2026-11-03T07:00:00Z'), KINDS);
    expect(r.route).toBe(routing.routes[0]);
    expect(r.workingHours).toBe(true);
    expect(addresses(r)).toEqual(['ahmet/eposta/ahmet@belediye.gov.tr/tr', 'ayse/eposta/ayse@belediye.gov.tr/tr', 'zeynep/eposta/zeynep@belediye.gov.tr/en']);
    expect(r.deliveries[1]!.name).toBe('Ayşe Demir');
    expect(r.skipped).toEqual([]);
  });

  it('outside working hours: the person on duty by e-mail and SMS', () => {
    const r = recipientsFor(alert({}), routing, utc('2026-11-03T18:00:00Z'), KINDS);
    expect(r.workingHours).toBe(false);
    expect(addresses(r)).toEqual(['ahmet/eposta/ahmet@belediye.gov.tr/tr', 'ahmet/sms/+905321234567/tr']);
  });

  it('on a holiday, with an on-duty person who has no phone: the SMS is skipped and reported', () => {
    const r = recipientsFor(alert({}), routing, utc('2026-10-29T09:00:00Z'), KINDS);
    expect(r.workingHours).toBe(false);
    expect(addresses(r)).toEqual(['zeynep/eposta/zeynep@belediye.gov.tr/en']);
    expect(r.skipped).toEqual([{ contactId: 'zeynep', channel: 'sms', missing: 'phone' }]);
  });

  it('a route without a working-hours rule uses its off-hours rule all day; a channel fits only its address kind', () => {
    const r = recipientsFor(alert({ category: 'cameras', site: 'itfaiye', device: 'nvr1', kind: 'nvr' }), routing, utc('2026-11-03T07:00:00Z'), KINDS);
    expect(r.route).toBe(routing.routes[1]);
    expect(addresses(r)).toEqual(['kemal/sms/+905320001122/tr', 'mehmet/sms/+905051112233/tr', 'mehmet/sohbet/https://sohbet.belediye.gov.tr/hooks/mehmet/tr']);
    expect(r.skipped).toEqual([{ contactId: 'kemal', channel: 'sohbet', missing: 'url' }]);
  });

  it('reports a channel that is not running instead of dropping its deliveries', () => {
    const r = recipientsFor(alert({}), routing, utc('2026-11-03T18:00:00Z'), new Map([['eposta', 'email']]));
    expect(addresses(r)).toEqual(['ahmet/eposta/ahmet@belediye.gov.tr/tr']);
    expect(r.skipped).toEqual([{ contactId: 'ahmet', channel: 'sms', missing: 'channel' }]);
  });

  it('the catch-all reaches the daily on-duty person', () => {
    expect(addresses(recipientsFor(alert({ category: 'systems' }), routing, utc('2026-11-03T07:00:00Z'), KINDS))).toEqual(['ahmet/eposta/ahmet@belediye.gov.tr/tr']);
    expect(addresses(recipientsFor(alert({ category: 'systems' }), routing, utc('2026-11-04T07:00:00Z'), KINDS))).toEqual(['kemal/eposta/kemal@belediye.gov.tr/tr']);
  });

  it('escalation goes to the manager by SMS after the route\'s delay; a route without one does not escalate', () => {
    const now = utc('2026-11-03T18:00:00Z');
    expect(escalationFor(routing.routes[0]!, routing, now, KINDS)).toEqual({
      after: 900_000,
      deliveries: [{ contactId: 'mehmet', name: 'Mehmet Öztürk', channel: 'sms', address: '+905051112233', language: 'tr' }],
      skipped: [],
    });
    expect(escalationFor(routing.routes[1]!, routing, now, KINDS)).toBeUndefined();
    // Without `to` the escalation goes to the team's manager; a team without one is refused.
    const raw = parseYaml(FILE);
    raw.routes[0].escalate = { after: '30m', channels: ['sms', 'sohbet'] };
    const byDefault = parseRouting(stringify(raw), 'x.yaml');
    expect(addresses(escalationFor(byDefault.routes[0]!, byDefault, now, KINDS)!)).toEqual(['mehmet/sms/+905051112233/tr', 'mehmet/sohbet/https://sohbet.belediye.gov.tr/hooks/mehmet/tr']);
    delete raw.teams[0].manager;
    expect(() => parseRouting(stringify(raw), 'x.yaml')).toThrow('routes[0].escalate.to: team "donanim" has no manager');
  });
});

describe('maintenance windows', () => {
  const active = (site: string, device: string, iso: string) => maintenanceFor({ site, device }, routing.maintenance, utc(iso), TZ)?.id;

  it('recurring Sunday 02:00–04:00 Istanbul: open at 02:30 and 03:59, closed at 04:01 and on Monday, only for its device', () => {
    expect(active('merkez', 'srv-yedek', '2026-11-07T23:30:00Z')).toBe('pazar-yedek'); // Sunday 02:30
    expect(active('merkez', 'srv-yedek', '2026-11-08T00:59:00Z')).toBe('pazar-yedek'); // 03:59
    expect(active('merkez', 'srv-yedek', '2026-11-08T01:01:00Z')).toBeUndefined(); // 04:01
    expect(active('merkez', 'srv-yedek', '2026-11-07T22:59:00Z')).toBeUndefined(); // 01:59
    expect(active('merkez', 'srv-yedek', '2026-11-08T23:30:00Z')).toBeUndefined(); // Monday 02:30
    expect(active('merkez', 'srv-web', '2026-11-07T23:30:00Z')).toBeUndefined();
  });

  it('one-off: the fiber work covers the whole site from 22:00 to 02:00 the next day', () => {
    expect(active('itfaiye', 'nvr1', '2026-12-01T18:59:59Z')).toBeUndefined();
    expect(active('itfaiye', 'nvr1', '2026-12-01T19:00:00Z')).toBe('fiber-calisma');
    expect(active('itfaiye', 'sw1', '2026-12-01T22:59:00Z')).toBe('fiber-calisma'); // 01:59 on 2 December
    expect(active('itfaiye', 'nvr1', '2026-12-01T23:00:00Z')).toBeUndefined();
    expect(active('merkez', 'nvr1', '2026-12-01T20:00:00Z')).toBeUndefined();
  });

  it('a recurring window across midnight ends on the next day', () => {
    expect(active('zabita', 'pc1', '2026-11-07T20:30:00Z')).toBe('gece-yedek'); // Saturday 23:30
    expect(active('zabita', 'pc1', '2026-11-07T21:30:00Z')).toBe('gece-yedek'); // Sunday 00:30
    expect(active('zabita', 'pc1', '2026-11-07T22:00:00Z')).toBeUndefined(); // Sunday 01:00
    expect(active('zabita', 'pc1', '2026-11-08T20:30:00Z')).toBeUndefined(); // Sunday 23:30
    expect(active('zabita', 'pc1', '2026-11-06T21:30:00Z')).toBeUndefined(); // Saturday 00:30 (Friday night not listed)
  });
});

describe('silences', () => {
  const T0 = utc('2026-11-03T07:00:00Z');
  const disk = { rule: 'disk_almost_full', site: 'merkez', device: 'srv1', instance: '/var' };

  it('match while every given matcher equals the alert, until endsAt', () => {
    const device = { matchers: { site: 'merkez', device: 'srv1' }, endsAt: T0 + 3_600_000 };
    expect(silenceMatches(device, disk, T0)).toBe(true);
    expect(silenceMatches(device, { ...disk, rule: 'host_down', instance: '' }, T0)).toBe(true);
    expect(silenceMatches(device, { ...disk, device: 'srv2' }, T0)).toBe(false);
    expect(silenceMatches(device, { ...disk, site: 'itfaiye' }, T0)).toBe(false);
    expect(silenceMatches(device, disk, T0 + 3_599_999)).toBe(true);
    expect(silenceMatches(device, disk, T0 + 3_600_000)).toBe(false);
  });

  it('narrow to one rule and instance', () => {
    const one = { matchers: { rule: 'disk_almost_full', site: 'merkez', device: 'srv1', instance: '/var' }, endsAt: T0 + 60_000 };
    expect(silenceMatches(one, disk, T0)).toBe(true);
    expect(silenceMatches(one, { ...disk, instance: '/' }, T0)).toBe(false);
    expect(silenceMatches(one, { ...disk, rule: 'disk_full' }, T0)).toBe(false);
  });

  it('without any matcher silence nothing', () => {
    expect(silenceMatches({ matchers: {}, endsAt: T0 + 60_000 }, disk, T0)).toBe(false);
  });
});
