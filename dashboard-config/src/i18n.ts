// Every text a dashboard shows, in Turkish and English; the build chooses one.
export const LANGUAGES = ['tr', 'en'] as const;
export type Lang = (typeof LANGUAGES)[number];

const texts = {
  nocTitle: { tr: 'NOC genel bakış', en: 'NOC overview' },
  hostTitle: { tr: 'Sunucu / PC ayrıntısı', en: 'Host detail' },
  hostsPerSite: { tr: 'Birimlere göre çevrimiçi cihazlar', en: 'Hosts online per site' },
  hostsPerSiteDesc: { tr: 'Her birimde çevrimiçi ve toplam cihaz sayısı (son 30 gün içinde görülenler)', en: 'Online and total devices per site (seen in the last 30 days)' },
  onlineHosts: { tr: 'Çevrimiçi cihazlar', en: 'Hosts online' },
  offlineHosts: { tr: 'Çevrimdışı cihazlar', en: 'Hosts offline' },
  offlineHostsDesc: { tr: 'Son durumu çevrimdışı olan cihazlar ve nedeni (lwt: bağlantı koptu, heartbeat_timeout: veri gelmiyor)', en: 'Devices whose last state is offline, with the reason (lwt: connection lost, heartbeat_timeout: silent)' },
  fullDisks: { tr: 'Dolmak üzere olan diskler (> %90)', en: 'File systems almost full (> 90 %)' },
  hotCpus: { tr: 'Yüksek işlemci kullanımı (> %80)', en: 'Hot CPUs (> 80 %)' },
  cpuByHost: { tr: 'İşlemci kullanımı (cihaz başına)', en: 'CPU usage per host' },
  tempByHost: { tr: 'En yüksek sıcaklık (cihaz başına)', en: 'Highest temperature per host' },
  recentReboots: { tr: 'Son yeniden başlatmalar', en: 'Recent reboots' },
  collectorIn: { tr: 'Toplayıcı: gelen mesaj/sn', en: 'Collector: messages in per second' },
  collectorRejected: { tr: 'Toplayıcı: reddedilen mesaj/sn', en: 'Collector: messages rejected per second' },
  collectorQueue: { tr: 'Toplayıcı: yazma kuyruğu', en: 'Collector: write queue depth' },
  collectorLatency: { tr: 'Toplayıcı: yazma gecikmesi', en: 'Collector: write latency' },
  site: { tr: 'Birim', en: 'Site' },
  host: { tr: 'Cihaz', en: 'Host' },
  cpu: { tr: 'İşlemci', en: 'CPU' },
  load: { tr: 'Sistem yükü', en: 'Load average' },
  memory: { tr: 'Bellek kullanımı', en: 'Memory usage' },
  swap: { tr: 'Takas alanı (swap)', en: 'Swap usage' },
  filesystems: { tr: 'Dosya sistemleri doluluk', en: 'File system usage' },
  diskio: { tr: 'Disk G/Ç', en: 'Disk I/O' },
  netThroughput: { tr: 'Ağ trafiği', en: 'Network throughput' },
  netErrors: { tr: 'Ağ hataları ve düşen paketler', en: 'Network errors and drops' },
  temperatures: { tr: 'Sıcaklıklar', en: 'Temperatures' },
  fans: { tr: 'Fanlar', en: 'Fans' },
  uptime: { tr: 'Çalışma süresi', en: 'Uptime' },
  battery: { tr: 'Pil', en: 'Battery' },
  smart: { tr: 'Disk sağlığı (SMART)', en: 'Disk health (SMART)' },
  raid: { tr: 'RAID durumu', en: 'RAID state' },
  events: { tr: 'Olaylar', en: 'Events' },
} as const satisfies Record<string, Record<Lang, string>>;

export type TextKey = keyof typeof texts;
export const t = (lang: Lang, key: TextKey): string => texts[key][lang];
