import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

// A plain MQTT client for tests: stands in for devices we did not write (kiosks, scripts)
// and for hostile clients. It speaks the real protocol to the real broker.

// protocolVersion 4 by default: the embedded aedes broker speaks MQTT 3.1.1 only (docs/broker.md).
export async function connectClient(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  const client = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5_000, ...options });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  return client;
}

export function publish(client: MqttClient, topic: string, payload: string | Buffer | object, options: { qos?: 0 | 1; retain?: boolean } = {}): Promise<void> {
  const body = typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload);
  return new Promise((resolve, reject) => {
    client.publish(topic, body, { qos: options.qos ?? 1, retain: options.retain ?? false }, (error) => (error ? reject(error) : resolve()));
  });
}
