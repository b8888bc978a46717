// Container healthcheck of the collector (deploy/docker-compose.yml): GET /readyz on the
// container's own API; exit 0 when it answers 200 (broker, stores and spool open), 1 otherwise.
//
// Why this and not curl: the image has no curl, and the API's scheme, address and port come
// from the collector's configuration (api.tls, api.host, api.port and their COLLECTOR_API__*
// overrides). Reading the configuration with the collector's own loader keeps the check right
// when they change, instead of a second copy of them in the compose file.
//
// Why the certificate is not verified: the request goes to this container's loopback (or the
// address the API is bound to), never over the network. The certificate names the collector's
// LAN names, not 127.0.0.1, and is from the municipality's private CA; verifying it here would
// only make the check fail. Nothing secret is sent: /readyz is open by design (docs/security.md).
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { loadCollectorConfig, type CollectorConfig } from '../../collector/config.ts';

const TIMEOUT_MS = 4_000;

function configFile(argv: readonly string[]): string {
  const at = argv.indexOf('--config');
  return at >= 0 && argv[at + 1] ? argv[at + 1]! : '/etc/belediye-izleme/collector.yaml';
}

/** A wildcard listen address is reached through loopback; a specific one only on itself. */
function reachableHost(host: string): string {
  if (host === '' || host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}

function fail(message: string): never {
  process.stderr.write(`healthcheck: ${message}\n`);
  process.exit(1);
}

let api: CollectorConfig['api'];
try {
  api = loadCollectorConfig(configFile(process.argv.slice(2))).api;
} catch (error) {
  fail((error as Error).message);
}

const tls = api.tls !== undefined;
const options = { host: reachableHost(api.host), port: api.port, path: '/readyz', method: 'GET', timeout: TIMEOUT_MS };
const req = tls ? httpsRequest({ ...options, rejectUnauthorized: false }) : httpRequest(options);
req.on('response', (res) => {
  res.resume();
  if (res.statusCode === 200) process.exit(0);
  fail(`${tls ? 'https' : 'http'}://${options.host}:${options.port}/readyz answered ${res.statusCode}`);
});
req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
req.on('error', (error) => fail(`${tls ? 'https' : 'http'}://${options.host}:${options.port}/readyz: ${error.message}`));
req.end();
