import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';

// Shared by the benchmarks: what machine and versions ran them, process sampling from /proc,
// and order statistics. Results are JSON, one file per benchmark under bench/results/.

const CLOCK_TICKS = 100; // USER_HZ on Linux

export function machine() {
  return { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), kernel: release(), node: process.version };
}

export function packageVersion(name: string): string {
  return (JSON.parse(readFileSync(join(import.meta.dirname, '..', 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
}

export function commandVersion(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0]!.trim();
  } catch (error) {
    return ((error as { stderr?: string }).stderr ?? 'unknown').split('\n')[0]!.trim();
  }
}

/** CPU time (ms), RSS and its private anonymous part (bytes) of a process, from /proc. */
export function processSample(pid: number): { cpuMs: number; rss: number; rssAnon: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuMs = ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
  return { cpuMs, rss: kb('VmRSS'), rssAnon: kb('RssAnon') };
}

/** Samples a process every `everyMs` until stopped. */
export function sampleProcess(pid: number, everyMs = 1000) {
  const samples: { at: number; cpuMs: number; rss: number; rssAnon: number }[] = [];
  const take = () => {
    try {
      samples.push({ at: Date.now(), ...processSample(pid) });
    } catch {
      /* the process ended */
    }
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    samples,
    stop() {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}

export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export const median = (values: readonly number[]) => quantile(values, 0.5);

/** Fewer than this many samples make no quantile worth printing. */
export const MIN_QUANTILE_SAMPLES = 20;

/** p50 and p99 from enough samples; below MIN_QUANTILE_SAMPLES, the values themselves. */
export function latencySummary(values: readonly number[], digits = 1) {
  if (values.length < MIN_QUANTILE_SAMPLES) return { samples: values.length, valuesMs: values.map((v) => round(v, digits)) };
  return { samples: values.length, p50: round(quantile(values, 0.5), digits), p99: round(quantile(values, 0.99), digits) };
}
export const round = (v: number, d = 1) => Math.round(v * 10 ** d) / 10 ** d;
export const mib = (bytes: number) => round(bytes / 2 ** 20);

export function writeResult(name: string, result: unknown): void {
  const text = `${JSON.stringify(result, null, 2)}\n`;
  writeFileSync(join(import.meta.dirname, 'results', `${name}.json`), text);
  process.stdout.write(text);
}
