// postject ships no types; this is the one function the build uses (dist/api.js).
declare module 'postject' {
  export function inject(filename: string, resourceName: string, resourceData: Buffer, options?: { sentinelFuse?: string; machoSegmentName?: string; overwrite?: boolean }): Promise<void>;
}
