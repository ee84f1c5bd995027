// Child process for the LocalStore crash test (test/unit/store/local-store.test.ts). Run as
//
//   node --import ./test/helpers/ts-register.mjs test/helpers/crash-writer.ts STORE_DIR ROUND
//
// It opens the real LocalStore (the same code weftd runs) and writes without end, printing one
// line per write only after the write's promise resolved:
//
//   ready <revision>
//   ack <revision> <key> [<key>...]
//
// The test SIGKILLs it at a random moment, reopens the store and checks that every acknowledged
// key is there. stdout is a pipe, and Node writes to pipes synchronously on Linux, so a printed
// line is in the pipe before the next write starts.

import { openLocalStore } from '../../src/store/local-store.js';

const [dir, round] = process.argv.slice(2);
if (!dir || !round) {
  process.stderr.write('usage: crash-writer.ts STORE_DIR ROUND\n');
  process.exit(2);
}

// Never outlive a test that forgot us: stop on our own after a while, or when stdout is gone.
setTimeout(() => process.exit(3), 60_000).unref();
process.stdout.on('error', () => process.exit(4));

const store = await openLocalStore({ path: dir });
process.stdout.write(`ready ${await store.revision()}\n`);

const ack = (rev: number, ...keys: string[]) => process.stdout.write(`ack ${rev} ${keys.join(' ')}\n`);
const pad = 'x'.repeat(200); // values big enough that some writes span more than one page

for (let i = 0; ; i += 4) {
  const k = (n: number) => `crash/${round}/${String(n).padStart(6, '0')}`;
  // A plain put, a compare-and-swap create, a two-key transaction, and a put racing another put.
  const rev1 = await store.put(k(i), { i, round, pad });
  ack(rev1, k(i));
  const rev2 = await store.put(k(i + 1), { i: i + 1, round }, { expectRevision: 0 });
  ack(rev2, k(i + 1));
  const t = await store.txn({
    compares: [{ key: k(i + 2), revision: 0 }],
    success: [
      { type: 'put', key: k(i + 2), value: { i: i + 2, round } },
      { type: 'put', key: `crash/${round}/last`, value: i + 2 },
    ],
  });
  if (!t.succeeded) throw new Error(`txn for ${k(i + 2)} failed`);
  ack(t.revision, k(i + 2), `crash/${round}/last`);
  await Promise.all([
    store.put(k(i + 3), { i: i + 3, round }).then((r) => ack(r, k(i + 3))),
    store.put(`crash/${round}/side`, i).then((r) => ack(r, `crash/${round}/side`)),
  ]);
}
