import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { WriterRegistry } from '../collector/storage/writer-registry.ts';
import { createWriter, storageConfigSchema, writerRegistry } from '../collector/storage/writers.ts';

const nullOutput = { type: 'null' as const, schema: z.strictObject({ type: z.literal('null'), label: z.string().default('x') }), create: (c: { type: 'null'; label: string }) => ({ name: `null-${c.label}`, write: async () => {}, close: async () => {} }) };

describe('writer registry', () => {
  it('ships influx-v1 and influx-v2', () => {
    expect(writerRegistry.types()).toEqual(['influx-v1', 'influx-v2']);
    expect(createWriter(storageConfigSchema.parse({ type: 'influx-v1' })).name).toBe('influx-v1');
    expect(createWriter(storageConfigSchema.parse({ type: 'influx-v2', url: 'http://127.0.0.1:8086', org: 'belediye' })).name).toBe('influx-v2');
  });

  it('applies each type’s defaults and names the bad field', () => {
    expect(storageConfigSchema.parse({ type: 'influx-v1' })).toMatchObject({ url: 'http://127.0.0.1:8086', database: 'monitoring', timeoutMs: 10_000, createDatabase: true });
    const bad = storageConfigSchema.safeParse({ type: 'influx-v2', url: 'http://127.0.0.1:8086' });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['org']);
    const unknown = storageConfigSchema.safeParse({ type: 'influx-v9' });
    expect(unknown.error?.issues[0]?.path).toEqual(['type']);
  });

  it('takes a new output type without touching the others, and refuses the same type twice', () => {
    const registry = new WriterRegistry();
    registry.register(nullOutput);
    expect(registry.configSchema().parse({ type: 'null' })).toEqual({ type: 'null', label: 'x' });
    expect(registry.create({ type: 'null' }).name).toBe('null-x');
    expect(() => registry.register(nullOutput)).toThrow('storage type "null" is already registered');
  });

  it('refuses an unknown type and an empty registry with a clear error', () => {
    expect(() => writerRegistry.create({ type: 'kafka' })).toThrow('unknown storage type "kafka" (known: influx-v1, influx-v2)');
    expect(() => new WriterRegistry().configSchema()).toThrow('no storage type is registered');
  });
});
