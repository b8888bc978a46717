import { readFileSync } from 'node:fs';

// Recorded outputs in tests/fixtures/agent (a Debian file server and a Windows 11 office PC).
const root = new URL('../fixtures/agent/', import.meta.url);

export function fixtureText(path: string): string {
  return readFileSync(new URL(path, root), 'utf8');
}

export function fixtureJson<T = unknown>(path: string): T {
  return JSON.parse(fixtureText(path)) as T;
}
