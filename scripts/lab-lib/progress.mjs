// Progress lines on stderr (one per finished step, with its duration), so that stdout carries only
// the results (the summary table, `status --json`).

export function say(text) {
  process.stderr.write(`${text}\n`);
}

/** Runs fn, then prints "  ok    LABEL   123 ms" (or FAIL) and returns fn's result. */
export async function step(label, fn) {
  const t0 = Date.now();
  try {
    const r = await fn();
    say(`  ok    ${pad(label, 58)} ${ms(Date.now() - t0)}`);
    return r;
  } catch (e) {
    say(`  FAIL  ${pad(label, 58)} ${ms(Date.now() - t0)}`);
    throw e;
  }
}

function pad(s, n) {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function ms(n) {
  return `${String(n).padStart(6)} ms`;
}
