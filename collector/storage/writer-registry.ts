import { z } from 'zod';
import type { PointWriter } from './writer.ts';

// Output types by their config `type`. The core asks the registry for a config schema and a
// writer; it never names an output type itself, so adding one does not touch the core.

export interface OutputType<Config extends { type: string }> {
  type: Config['type'];
  /** A zod object with `type: z.literal(<type>)`, so it can join the discriminated union. */
  schema: z.ZodType<Config>;
  create(config: Config): PointWriter;
}

type AnyOutput = OutputType<{ type: string }>;

export class WriterRegistry {
  readonly #outputs = new Map<string, AnyOutput>();

  register<Config extends { type: string }>(output: OutputType<Config>): void {
    if (this.#outputs.has(output.type)) throw new Error(`storage type "${output.type}" is already registered`);
    this.#outputs.set(output.type, output as unknown as AnyOutput);
  }

  types(): string[] {
    return [...this.#outputs.keys()];
  }

  /** One schema for every registered type, discriminated by `type`; errors name the field. */
  configSchema(): z.ZodType<{ type: string }> {
    const schemas = [...this.#outputs.values()].map((o) => o.schema);
    if (schemas.length === 0) throw new Error('no storage type is registered');
    return z.discriminatedUnion('type', schemas as unknown as [z.ZodObject, ...z.ZodObject[]]) as unknown as z.ZodType<{ type: string }>;
  }

  /** Validates the config against its type's schema (defaults applied) and builds the writer. */
  create(config: { type: string }): PointWriter {
    const output = this.#outputs.get(config.type);
    if (!output) throw new Error(`unknown storage type "${config.type}" (known: ${this.types().join(', ')})`);
    return output.create(output.schema.parse(config));
  }
}
