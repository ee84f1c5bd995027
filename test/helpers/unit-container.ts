// Unit-test set-up shared by the controller, driver, docker-sync and daemon unit tests: a temp dir,
// real embedded stores (lmdb) in it, and, when a test wants the whole daemon, the composition root
// (buildContainer) on that store with a command runner that runs nothing and records what it was
// asked to run. A scope remembers all of it and removes it after each test, also when the test
// failed: stores closed first, then the temp dirs.
//
// Real stores, not fakes: the store is what these tests are about (design.md, "Principles"); only
// the kernel edge (the command runner) is faked, because unit tests run without root.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { DEFAULT_CONFIG } from '../../src/daemon/config.js';
import { buildContainer, type Services } from '../../src/daemon/container.js';
import { openLocalStore, type LocalStore } from '../../src/store/local-store.js';
import type { CommandRunner } from '../../src/sys/exec.js';
import { cleanAfterEach, CleanupStack } from './cleanup-stack.js';

/** A logger that writes nothing: unit tests assert on state, not on log lines. */
export const silentLogger: Logger = pino({ level: 'silent' });

export interface UnitStore {
  /** The temp dir the store lives in (removed by the scope); tests may put other files there. */
  dir: string;
  store: LocalStore;
}

export interface UnitContainer extends UnitStore {
  /** The daemon's object graph (controller, IPAM, drivers...) on `store` as local and cluster store. */
  s: Services;
  logger: Logger;
  /** The fake runner handed to buildContainer (s.runner is the daemon's counting wrapper of it). */
  runner: CommandRunner;
  /** Every argv the daemon asked the fake runner to run, in order. */
  ran: string[][];
}

/**
 * A runner that runs nothing, answers success with `stdout` (`[]` suits the daemon's `ip -j`
 * reads), and records each argv in `ran`.
 */
export function recordingRunner(ran: string[][], stdout = '[]'): CommandRunner {
  return { run: async (argv) => (ran.push([...argv]), { stdout, stderr: '', code: 0 }) };
}

/** Temp dirs and stores of one test; `cleanup()` undoes them in reverse order. */
export class UnitScope {
  private readonly undo = new CleanupStack();

  /** A fresh temp dir `<tmp>/<prefix>XXXXXX`. */
  async tempDir(prefix = 'weft-unit-'): Promise<string> {
    const dir = await mkdtemp(path.join(tmpdir(), prefix));
    this.undo.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  }

  /** Opens an embedded store at `<dir>/<name>`; the scope closes it. */
  async openStore(dir: string, name = 'store'): Promise<LocalStore> {
    const store = await openLocalStore({ path: path.join(dir, name) });
    this.undo.push(() => store.close());
    return store;
  }

  /** A temp dir with one embedded store in it. */
  async store(prefix?: string): Promise<UnitStore> {
    const dir = await this.tempDir(prefix);
    return { dir, store: await this.openStore(dir) };
  }

  /**
   * A temp dir, a store, and the daemon's composition root on it (host h1, the default config with
   * the temp dir as state dir) with a recording fake runner.
   */
  async container(prefix?: string): Promise<UnitContainer> {
    const { dir, store } = await this.store(prefix);
    const ran: string[][] = [];
    const runner = recordingRunner(ran);
    const s = await buildContainer({ ...DEFAULT_CONFIG, stateDir: dir }, { local: store, cluster: store }, silentLogger, [], 'h1', { runner });
    return { dir, store, s, logger: silentLogger, runner, ran };
  }

  /** Undoes everything, newest first; tries every step and then reports every failure. */
  cleanup(): Promise<void> {
    return this.undo.run('unit test');
  }
}

/** A scope cleaned up after every test of the calling file or describe block. */
export function unitScopePerTest(): UnitScope {
  return cleanAfterEach(new UnitScope());
}
