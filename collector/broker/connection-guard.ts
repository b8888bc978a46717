import { Duplex } from 'node:stream';

// Sits between a client's socket and aedes and reads only MQTT fixed headers (type and
// remaining length). aedes 1.2 has no packet size limit: it buffers whatever length a header
// announces (up to 256 MB) before it parses, so an oversize packet is refused here, from its
// header, before its body is read. And a client publishing faster than its rate is slowed
// down by not reading its socket (TCP pushes back), so one flooding device cannot take the
// collector's time from the others.

export interface GuardLimits {
  /** Largest whole MQTT packet (header + topic + payload) accepted. */
  maxPacketBytes: number;
  /** Sustained PUBLISH packets per second per connection, and the burst allowed above it. */
  messagesPerSecond: number;
  burst: number;
}

export interface GuardEvents {
  oversize(announcedBytes: number): void;
  malformed(): void;
  /** A PUBLISH was held back to keep the client under its rate. */
  throttled(): void;
}

const PUBLISH = 3;

export class ConnectionGuard extends Duplex {
  private readonly socket: Duplex;
  private readonly limits: GuardLimits;
  private readonly events: GuardEvents;
  private phase: 'type' | 'length' | 'body' = 'type';
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private bodyLeft = 0;
  private tokens: number;
  private refilledAt = performance.now();
  private held: Buffer | undefined;
  private holdTimer: NodeJS.Timeout | undefined;

  constructor(socket: Duplex, limits: GuardLimits, events: GuardEvents) {
    super();
    this.socket = socket;
    this.limits = limits;
    this.events = events;
    this.tokens = limits.burst;
    socket.on('data', (chunk: Buffer) => this.scan(chunk));
    socket.on('end', () => this.push(null));
    socket.on('error', (error) => this.destroy(error));
    socket.on('close', () => this.destroy());
  }

  override _read(): void {
    if (!this.held) this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.socket.destroyed) return callback();
    this.socket.write(chunk, (error) => callback(error));
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.socket.end(() => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.holdTimer);
    this.socket.destroy();
    callback(error);
  }

  private takeToken(): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.limits.burst, this.tokens + ((now - this.refilledAt) / 1000) * this.limits.messagesPerSecond);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Passes bytes on packet by packet; stops at a PUBLISH over the rate and resumes when a token is due. */
  private scan(chunk: Buffer): void {
    if (this.destroyed) return;
    let i = 0;
    while (i < chunk.length) {
      if (this.phase === 'type') {
        if (chunk[i]! >> 4 === PUBLISH && !this.takeToken()) {
          this.forward(chunk.subarray(0, i));
          this.hold(chunk.subarray(i));
          return;
        }
        this.phase = 'length';
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
        i++;
      } else if (this.phase === 'length') {
        const byte = chunk[i++]!;
        this.length += (byte & 0x7f) * this.multiplier;
        this.multiplier *= 128;
        this.lengthBytes++;
        if (byte & 0x80) {
          if (this.lengthBytes === 4) return this.refuse(() => this.events.malformed());
          continue;
        }
        const total = 1 + this.lengthBytes + this.length;
        if (total > this.limits.maxPacketBytes) return this.refuse(() => this.events.oversize(total));
        this.bodyLeft = this.length;
        this.phase = this.bodyLeft === 0 ? 'type' : 'body';
      } else {
        const take = Math.min(this.bodyLeft, chunk.length - i);
        i += take;
        this.bodyLeft -= take;
        if (this.bodyLeft === 0) this.phase = 'type';
      }
    }
    this.forward(chunk);
  }

  private forward(bytes: Buffer): void {
    if (bytes.length > 0 && !this.push(bytes)) this.socket.pause();
  }

  private hold(rest: Buffer): void {
    this.events.throttled();
    this.held = rest;
    this.socket.pause();
    const waitMs = Math.ceil(((1 - this.tokens) / this.limits.messagesPerSecond) * 1000);
    this.holdTimer = setTimeout(() => {
      const held = this.held!;
      this.held = undefined;
      this.socket.resume();
      this.scan(held);
    }, waitMs);
  }

  private refuse(count: () => void): void {
    count();
    this.destroy();
  }
}
