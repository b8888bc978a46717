import { readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../src/log.ts';
import { writePrivateFileAtomically } from '../src/private-files.ts';
import { withRetry } from '../src/retry.ts';
import type { AgentConfig } from './config.ts';

// Device credentials: an agent started with an enrollment token asks the collector for its own
// user name and password once, and keeps them in <stateDir>/credentials.json, readable by the
// service account only. The token is spent; the collector keeps only a hash of the password.
// Rotation: the agent proves its current password and receives a new one.

export interface DeviceCredentials {
  username: string;
  password: string;
  clientId: string;
  issuedAt: number;
}

/** The collector refused (bad, expired, used-up or revoked token; wrong site): retrying cannot help. */
export class EnrollmentRefused extends Error {
  override name = 'EnrollmentRefused';
}

const credentialsSchema = z.object({ username: z.string().min(1), password: z.string().min(1), clientId: z.string().min(1), issuedAt: z.number() });
const answerSchema = z.object({ username: z.string().min(1), password: z.string().min(1), clientId: z.string().min(1) });
const REQUEST_TIMEOUT_MS = 10_000;

const credentialsPath = (stateDir: string) => join(stateDir, 'credentials.json');

export function loadCredentials(stateDir: string): DeviceCredentials | undefined {
  let text: string;
  try {
    text = readFileSync(credentialsPath(stateDir), 'utf8');
  } catch {
    return undefined;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    raw = undefined;
  }
  const parsed = credentialsSchema.safeParse(raw);
  if (!parsed.success) throw new EnrollmentRefused(`${credentialsPath(stateDir)} is damaged; remove it and enroll again with a new token`);
  return parsed.data;
}

export function saveCredentials(stateDir: string, credentials: DeviceCredentials): void {
  writePrivateFileAtomically(credentialsPath(stateDir), JSON.stringify(credentials));
}

/** A JSON POST with a timeout; the collector's certificate is checked against enrollment.caFile when given. */
function postJson(url: URL, headers: Record<string, string>, body: string, caFile: string | undefined): Promise<{ status: number; body: unknown }> {
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers }, timeout: REQUEST_TIMEOUT_MS, ...(caFile ? { ca: readFileSync(caFile) } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        let parsed: unknown = {};
        try {
          parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          // a non-JSON answer is judged by its status alone
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS / 1000} s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** One call to the collector: 4xx is refused for good, anything else retried with backoff. */
async function callCollector(config: AgentConfig, path: string, headers: Record<string, string>, body: string, log: Logger): Promise<DeviceCredentials> {
  const enrollment = config.enrollment!;
  const url = new URL(path, enrollment.url);
  return withRetry(
    async (attempt) => {
      let response;
      try {
        response = await postJson(url, headers, body, enrollment.caFile);
      } catch (error) {
        log.log('warn', 'collector not reachable for enrollment, retrying', { url: url.origin, attempt, error: (error as Error).message });
        throw error;
      }
      const message = (response.body as { error?: unknown }).error;
      if (response.status >= 400 && response.status < 500) throw new EnrollmentRefused(typeof message === 'string' ? message : `collector answered ${response.status}`);
      if (response.status < 200 || response.status >= 300) throw new Error(`collector answered ${response.status}`);
      const answer = answerSchema.safeParse(response.body);
      if (!answer.success) throw new EnrollmentRefused('collector answered without credentials');
      return { ...answer.data, issuedAt: Date.now() };
    },
    { attempts: 20, initialMs: 1_000, maxMs: 60_000, retryable: (error) => !(error instanceof EnrollmentRefused) },
  );
}

/**
 * The credentials this agent connects with: configured ones (mqtt.username) win; else those
 * saved by an earlier enrollment; else it enrolls with enrollment.token. Undefined when the
 * configuration asks for no authentication at all.
 */
export async function ensureCredentials(config: AgentConfig, log: Logger): Promise<DeviceCredentials | undefined> {
  if (config.mqtt.username || !config.enrollment) return undefined;
  const saved = loadCredentials(config.stateDir);
  if (saved) {
    // A token an installer left for a machine that is already enrolled has no use: it must not
    // lie on the disk (a reinstall or an upgrade that repeated ENROLL_TOKEN).
    if (readEnrollmentTokenFile(config.stateDir) !== undefined) {
      rmSync(enrollmentTokenPath(config.stateDir), { force: true });
      log.log('info', 'already enrolled: the installer\'s enrollment token was not needed and is removed');
    }
    return saved;
  }
  const fromFile = readEnrollmentTokenFile(config.stateDir);
  const token = config.enrollment.token ?? fromFile;
  if (!token) throw new EnrollmentRefused(`no device credentials in ${config.stateDir}, no enrollment.token and no ${enrollmentTokenPath(config.stateDir)} to enroll with`);
  const credentials = await callCollector(config, '/api/v1/enroll', {}, JSON.stringify({ token, site: config.site, device: config.device }), log);
  saveCredentials(config.stateDir, credentials);
  // The installer's token is spent: it must not lie on the disk once it has done its one job.
  if (fromFile !== undefined && config.enrollment.token === undefined) rmSync(enrollmentTokenPath(config.stateDir), { force: true });
  log.log('info', 'enrolled with the collector', { username: credentials.username });
  return credentials;
}

/** Where the installer (`belediye-agent configure --token`, the MSI's ENROLL_TOKEN) leaves a one-use token. */
export function enrollmentTokenPath(stateDir: string): string {
  return join(stateDir, 'enrollment-token');
}

function readEnrollmentTokenFile(stateDir: string): string | undefined {
  try {
    const token = readFileSync(enrollmentTokenPath(stateDir), 'utf8').trim();
    return token.length > 0 ? token : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Pure: credentials older than the rotation period are due for a new password. */
export function rotationDue(credentials: DeviceCredentials, rotateAfterDays: number, now: number): boolean {
  return now - credentials.issuedAt >= rotateAfterDays * 86_400_000;
}

export async function rotateCredentials(config: AgentConfig, current: DeviceCredentials, log: Logger): Promise<DeviceCredentials> {
  const basic = Buffer.from(`${current.username}:${current.password}`, 'utf8').toString('base64');
  const fresh = await callCollector(config, '/api/v1/credentials/rotate', { authorization: `Basic ${basic}` }, '{}', log);
  saveCredentials(config.stateDir, fresh);
  log.log('info', 'device credentials rotated', { username: fresh.username });
  return fresh;
}
