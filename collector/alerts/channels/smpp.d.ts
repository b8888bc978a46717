// The part of the `smpp` package (node-smpp 0.5, no bundled types) the SMPP channel and its test peer use.
declare module 'smpp' {
  import type { EventEmitter } from 'node:events';
  import type { Server as NetServer } from 'node:net';

  /** A decoded PDU: header fields plus the command's parameters by their SMPP names. */
  export interface PDU {
    command: string;
    command_status: number;
    sequence_number: number;
    [parameter: string]: unknown;
    response(options?: Record<string, unknown>): PDU;
  }

  type ResponseCallback = (pdu: PDU) => void;

  export interface Session extends EventEmitter {
    send(pdu: PDU, responseCallback?: ResponseCallback): boolean;
    bind_transceiver(options: Record<string, unknown>, responseCallback: ResponseCallback): boolean;
    submit_sm(options: Record<string, unknown>, responseCallback: ResponseCallback): boolean;
    enquire_link(options: Record<string, unknown>, responseCallback: ResponseCallback): boolean;
    unbind(options: Record<string, unknown>, responseCallback: ResponseCallback): boolean;
    close(callback?: () => void): void;
    destroy(callback?: () => void): void;
    pause(): void;
    resume(): void;
  }

  export interface Server extends NetServer {
    sessions: Session[];
  }

  interface Smpp {
    /** `url` is smpp://host:port or ssmpp://host:port (TLS). */
    connect(options: { url: string }): Session;
    createServer(listener: (session: Session) => void): Server;
  }

  const smpp: Smpp;
  export default smpp;
}
