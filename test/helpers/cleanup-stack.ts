// What the test helpers' scopes share: a stack of clean-up steps, undone newest first (what was made
// last may depend on what was made before it: a store inside a temp dir, weftd inside a namespace),
// every step tried even when one fails, and every failure reported; and the vitest hooks that run a
// scope's clean-up after each test or after the last test of a file or describe block.

import { afterAll, afterEach } from 'vitest';

/** Runs every step in order, then throws one AggregateError naming `what` if any failed. */
export async function tryAll(steps: Iterable<() => Promise<unknown>>, what: string): Promise<void> {
  const errors: unknown[] = [];
  for (const step of steps) {
    try {
      await step();
    } catch (e) {
      errors.push(e);
    }
  }
  if (errors.length > 0) throw new AggregateError(errors, `${what} clean-up failed`);
}

export class CleanupStack {
  private readonly steps: Array<() => Promise<unknown>> = [];

  push(step: () => Promise<unknown>): void {
    this.steps.push(step);
  }

  /** Undoes every step, newest first; the stack is empty afterwards, failed or not. */
  run(what: string): Promise<void> {
    return tryAll(this.steps.splice(0).reverse(), what);
  }
}

export interface Cleanable {
  cleanup(): Promise<void>;
}

/** Cleans `scope` up after every test of the calling file or describe block. */
export function cleanAfterEach<T extends Cleanable>(scope: T): T {
  afterEach(() => scope.cleanup());
  return scope;
}

/** Cleans `scope` up once, after the last test of the calling file or describe block. */
export function cleanAfterAll<T extends Cleanable>(scope: T): T {
  afterAll(() => scope.cleanup());
  return scope;
}
