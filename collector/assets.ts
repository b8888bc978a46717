import { join } from 'node:path';

// The collector's data files (shipped rules, device profiles, the OpenAPI document), named
// relative to this folder. From the repository this file is in collector/; in the package it is
// bundled into /usr/lib/belediye-collector/*.mjs, beside which deploy/package/collector.ts puts
// the same files at the same relative paths. So one path works in both, and no file asks
// import.meta for its own folder (in a bundle every module has the bundle's).

export function collectorAsset(relativePath: string): string {
  return join(import.meta.dirname, relativePath);
}
