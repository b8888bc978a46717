import type { EmbeddedBrokerOptions } from '../../collector/broker/embedded.ts';

// For tests of the embedded broker that are not about identity or limits: anyone may connect
// and nothing is throttled, so only the behaviour under test is measured.
export const openBrokerOptions: Pick<EmbeddedBrokerOptions, 'verifyDevice' | 'limits' | 'onRefused'> = {
  verifyDevice: undefined,
  limits: { maxPacketBytes: 16 * 1024 * 1024, messagesPerSecond: 1e9, burst: 1e9, maxConnections: 100_000 },
  onRefused: () => {},
};
