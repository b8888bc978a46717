import type { DeviceDriver } from '../driver.ts';
import { hikvisionIsapiDriver } from './hikvision-isapi.ts';
import { snmpDriver } from './snmp.ts';

// The driver registry: a profile's `driver` names one of these.
export const DRIVERS: ReadonlyMap<string, DeviceDriver> = new Map([snmpDriver, hikvisionIsapiDriver].map((d) => [d.name, d]));
