/**
 * How a broker front-end (embedded aedes or an external broker) hands a message to the
 * collector. The promise settles once the message is accepted (or refused and counted);
 * front-ends acknowledge QoS 1 only after that, which gives backpressure end to end.
 */
export type MessageHandler = (topic: string, payload: Buffer, receivedAt: number) => Promise<void>;
