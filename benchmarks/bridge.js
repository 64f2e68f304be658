// Page-side measurements for benchmarks/bridge.py, shared by every row of the table.
//
// bridge.py prepends this file to one line such as `return await smallPhase(rampartsEcho);`
// and runs the whole as the body of an async function in the page (the pywebview page, or
// a Ramparts app through `ramparts dev --eval`). Only the transport functions differ
// between rows; the loops, the payloads and the clock (performance.now) are the same.

const COUNTS = __COUNTS__;
const SMALL = { id: 42, name: "small object", tags: ["a", "b", "c"], ok: true, ratio: 0.25 };
const SMALL_JSON = JSON.stringify(SMALL);

function checkEcho(back) {
  if (JSON.stringify(back) !== SMALL_JSON) {
    throw new Error(`echo returned ${JSON.stringify(back)}`);
  }
}

// Small calls: warm-up (checked), then sequential calls (each timed), then one burst of
// concurrent calls (Promise.all). Percentiles are computed in Python from `latencies`.
async function smallPhase(echo) {
  for (let i = 0; i < COUNTS.warmup; i++) checkEcho(await echo(SMALL));
  const latencies = new Array(COUNTS.calls);
  const start = performance.now();
  for (let i = 0; i < COUNTS.calls; i++) {
    const t = performance.now();
    await echo(SMALL);
    latencies[i] = performance.now() - t;
  }
  const sequentialMs = performance.now() - start;
  const t = performance.now();
  const all = await Promise.all(Array.from({ length: COUNTS.concurrent }, () => echo(SMALL)));
  const concurrentMs = performance.now() - t;
  all.forEach(checkEcho);
  return { sequentialMs, latencies, concurrentMs };
}

// Large payloads: `roundTrip(size)` sends `size` bytes (or characters), checks what came
// back and returns the milliseconds of the call alone (payload building and checking are
// not timed). The first `bigWarmup` runs are discarded.
async function bigPhase(roundTrip) {
  const ms = [];
  for (let i = 0; i < COUNTS.bigWarmup + COUNTS.bigRepeats; i++) {
    const took = await roundTrip(COUNTS.bigBytes);
    if (i >= COUNTS.bigWarmup) ms.push(took);
  }
  return { ms };
}

async function timed(call) {
  const t = performance.now();
  const back = await call();
  return [performance.now() - t, back];
}

// --- pywebview js_api: JSON only, so the large payload is an ASCII string --------------
const pywebviewEcho = (value) => pywebview.api.echo(value);

async function pywebviewRoundTrip(size) {
  const sent = "0123456789abcdef".repeat(size / 16);
  const [ms, back] = await timed(() => pywebview.api.echo(sent));
  if (back !== sent) throw new Error(`the echoed string differs (length ${back.length})`);
  return ms;
}

// --- the Ramparts bridge: sample.echo (JSON), sample.echo_bytes (raw bytes) -------------
const rampartsEcho = (value) => ramparts.invoke("sample.echo", { value });

async function rampartsRoundTrip(size) {
  const sent = new Uint8Array(size);
  for (let i = 0; i < size; i++) sent[i] = (i * 7) & 255;
  const [ms, back] = await timed(() => ramparts.invoke("sample.echo_bytes", { data: sent }));
  if (!(back instanceof Uint8Array) || back.length !== size) {
    throw new Error(`echo_bytes returned ${back && back.length} bytes, not ${size}`);
  }
  for (let i = 0; i < size; i++) {
    if (back[i] !== sent[i]) throw new Error(`echo_bytes changed byte ${i}`);
  }
  return ms;
}
