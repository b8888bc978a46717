// Where the collector is in its life, as /readyz reports it: a load balancer or an orchestrator
// sends traffic only while it is `ready`, and stops as soon as the collector begins to stop.

export type Phase = 'starting' | 'ready' | 'stopping';

export class Readiness {
  #phase: Phase = 'starting';

  get phase(): Phase {
    return this.#phase;
  }

  /** Broker, stores and spool are open. A collector already stopping stays stopping. */
  ready(): void {
    if (this.#phase === 'starting') this.#phase = 'ready';
  }

  stopping(): void {
    this.#phase = 'stopping';
  }
}
