// Runs the steps of a stop in order, each within its own time bound: a step that hangs (a
// storage that stopped answering, a peer that never closes its socket) is logged and left
// behind, and the next step runs anyway, so a stop always ends. A step that throws is logged
// the same way; later steps (the stores) still close.

export interface StopStep {
  name: string;
  /** The longest this step may take before the stop moves on. */
  boundMs: number;
  run: () => void | Promise<void>;
}

export interface StepOutcome {
  name: string;
  ms: number;
  result: 'done' | 'overran' | 'failed';
  error?: string;
}

export type StepObserver = (outcome: StepOutcome) => void;

export async function runStopSteps(steps: readonly StopStep[], observe: StepObserver = () => {}): Promise<StepOutcome[]> {
  const outcomes: StepOutcome[] = [];
  for (const step of steps) {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const overran = new Promise<'overran'>((resolve) => {
      timer = setTimeout(() => resolve('overran'), step.boundMs);
    });
    let outcome: StepOutcome;
    try {
      const result = await Promise.race([Promise.resolve().then(step.run).then(() => 'done' as const), overran]);
      outcome = { name: step.name, ms: Math.round(performance.now() - started), result };
    } catch (error) {
      outcome = { name: step.name, ms: Math.round(performance.now() - started), result: 'failed', error: (error as Error).message ?? String(error) };
    } finally {
      clearTimeout(timer);
    }
    outcomes.push(outcome);
    observe(outcome);
  }
  return outcomes;
}

/** The longest a stop of these steps can take: what a process-level deadline must exceed. */
export function stopBoundMs(steps: readonly StopStep[]): number {
  return steps.reduce((sum, step) => sum + step.boundMs, 0);
}
