import type { z } from 'zod';
import { createInfluxV1Writer, influxV1ConfigSchema, type InfluxV1Config } from './influx-v1.ts';
import { createInfluxV2Writer, influxV2ConfigSchema, type InfluxV2Config } from './influx-v2.ts';
import { WriterRegistry } from './writer-registry.ts';
import type { PointWriter } from './writer.ts';

// The output types this collector ships. A new one is its own file plus one register() line
// here (and its config type in StorageConfig).

export const writerRegistry = new WriterRegistry();
writerRegistry.register<InfluxV1Config>({ type: 'influx-v1', schema: influxV1ConfigSchema, create: createInfluxV1Writer });
writerRegistry.register<InfluxV2Config>({ type: 'influx-v2', schema: influxV2ConfigSchema, create: createInfluxV2Writer });

export type StorageConfig = InfluxV1Config | InfluxV2Config;
export const storageConfigSchema = writerRegistry.configSchema() as z.ZodType<StorageConfig>;

export function createWriter(config: StorageConfig): PointWriter {
  return writerRegistry.create(config);
}
