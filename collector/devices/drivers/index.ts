import type { DeviceDriver } from '../driver.ts';
import { hikvisionIsapiDriver } from './hikvision-isapi.ts';
import { probeDnsDriver } from './probe-dns.ts';
import { probeHttpDriver } from './probe-http.ts';
import { probeIcmpDriver } from './probe-icmp.ts';
import { probeLdapDriver } from './probe-ldap.ts';
import { probeSmtpDriver } from './probe-smtp.ts';
import { probeTcpDriver } from './probe-tcp.ts';
import { probeTlsDriver } from './probe-tls.ts';
import { snmpDriver } from './snmp.ts';

// The driver registry: a profile's `driver` names one of these.
export const DRIVERS: ReadonlyMap<string, DeviceDriver> = new Map([snmpDriver, hikvisionIsapiDriver, probeIcmpDriver, probeTcpDriver, probeHttpDriver, probeTlsDriver, probeDnsDriver, probeSmtpDriver, probeLdapDriver].map((d) => [d.name, d]));
