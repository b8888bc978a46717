import { z } from 'zod';
import { createInfluxV1Writer, influxV1ConfigSchema } from './influx-v1.ts';
import { createInfluxV2Writer, influxV2ConfigSchema } from './influx-v2.ts';
import type { PointWriter } from './writer.ts';

// The output types the collector knows; adding one means adding its file and one line here.
export const storageConfigSchema = z.discriminatedUnion('type', [influxV1ConfigSchema, influxV2ConfigSchema]);
export type StorageConfig = z.infer<typeof storageConfigSchema>;

type Factories = { [T in StorageConfig['type']]: (config: Extract<StorageConfig, { type: T }>) => PointWriter };
const factories: Factories = {
  'influx-v1': createInfluxV1Writer,
  'influx-v2': createInfluxV2Writer,
};

export function createWriter(config: StorageConfig): PointWriter {
  return (factories[config.type] as (c: StorageConfig) => PointWriter)(config);
}
