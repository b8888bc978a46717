import { createHash } from 'node:crypto';
import si from 'systeminformation';
import { CONTRACT_VERSION, inventorySchema, type Inventory, type InventoryMessage } from '../../src/contract/schemas.ts';
import { installedSoftware } from './software.ts';

const text = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim().slice(0, 256) : undefined);
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Canonical JSON (sorted keys) so that the same inventory always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

export function inventoryMessage(inventory: Inventory, ts: number): InventoryMessage {
  const valid = inventorySchema.parse(inventory);
  return { v: CONTRACT_VERSION, ts, hash: createHash('sha256').update(canonicalJson(valid)).digest('hex'), inventory: valid };
}

/** Every call here may spawn processes (dmidecode, PowerShell): inventory runs on the slow cadence only. */
export async function collectInventory(): Promise<Inventory> {
  const [system, bios, cpu, memory, disks, nics, os, software] = await Promise.all([
    si.system(),
    si.bios(),
    si.cpu(),
    si.memLayout().catch(() => []),
    si.diskLayout().catch(() => []),
    si.networkInterfaces().then((n) => (Array.isArray(n) ? n : [n])),
    si.osInfo(),
    installedSoftware(),
  ]);
  return {
    system: { manufacturer: text(system.manufacturer), model: text(system.model), serial: text(system.serial), uuid: text(system.uuid) },
    bios: { vendor: text(bios.vendor), version: text(bios.version), releaseDate: text(bios.releaseDate) },
    cpu: { manufacturer: text(cpu.manufacturer), brand: text(cpu.brand), cores: num(cpu.cores), physicalCores: num(cpu.physicalCores), speedGHz: num(cpu.speed) },
    memory: memory.slice(0, 64).map((m) => ({ sizeBytes: m.size, type: text(m.type), speedMHz: num(m.clockSpeed), manufacturer: text(m.manufacturer), serial: text(m.serialNum), slot: text(m.bank) })),
    disks: disks.slice(0, 128).map((d) => ({ device: text(d.device), model: text(d.name), serial: text(d.serialNum), sizeBytes: num(d.size), type: text(d.type), interface: text(d.interfaceType) })),
    nics: nics
      .filter((n) => !n.internal)
      .slice(0, 128)
      .map((n) => ({ iface: n.iface.slice(0, 256), mac: text(n.mac), speedMbps: num(n.speed) ?? null, virtual: n.virtual })),
    os: { platform: text(os.platform), distro: text(os.distro), release: text(os.release), kernel: text(os.kernel), arch: text(os.arch), hostname: text(os.hostname) },
    software: software.slice(0, 10_000),
  };
}
