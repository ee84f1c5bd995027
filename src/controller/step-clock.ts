// Time per step of one operation (issue 8: "print the time per step so the gap is visible"),
// observed by weftd's metrics as weft_connect_step_duration_seconds{step}. The bench reads the
// histogram, so the steps it prints are measured inside weftd, on the real path, not rebuilt
// beside it.

export type StepObserver = (step: string, seconds: number) => void;

export const StepObserverToken = Symbol.for('weft.StepObserver');

export class StepClock {
  private last = performance.now();

  constructor(private readonly observe?: StepObserver) {}

  /** The time since the previous lap (or the start) was `step`. */
  lap(step: string): void {
    const now = performance.now();
    this.observe?.(step, (now - this.last) / 1000);
    this.last = now;
  }
}
