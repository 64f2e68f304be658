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
// not timed). The first `warmup` runs are discarded. A call that has not answered within
// `deadlineMs` fails the phase (pywebview drops messages it cannot carry without a word).
async function bigPhase(roundTrip, size = COUNTS.bigBytes, warmup = COUNTS.bigWarmup,
                        repeats = COUNTS.bigRepeats, deadlineMs = COUNTS.deadlineMs) {
  const ms = [];
  for (let i = 0; i < warmup + repeats; i++) {
    const took = await withDeadline(roundTrip(size), deadlineMs);
    if (i >= warmup) ms.push(took);
  }
  return { ms };
}

function withDeadline(promise, ms) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

// A JSON document of about `bytes` characters: an array of small records, the kind of
// result a table view asks for.
function jsonDoc(bytes) {
  const items = [];
  for (let i = 0, size = 11; size < bytes; i++) {
    const item = { id: i, name: `item ${i}`, tags: ["alpha", "beta"], ok: i % 2 === 0, ratio: i / 8 };
    size += JSON.stringify(item).length + 1;
    items.push(item);
  }
  return { items };
}

// The JSON document echoed by `echo` (the same function as the small calls).
async function jsonPhase(echo) {
  const doc = jsonDoc(COUNTS.jsonBytes);
  const text = JSON.stringify(doc);
  const ms = [];
  for (let i = 0; i < COUNTS.bigWarmup + COUNTS.bigRepeats; i++) {
    const [took, back] = await timed(() => withDeadline(echo(doc), COUNTS.deadlineMs));
    if (JSON.stringify(back) !== text) throw new Error("the echoed JSON document differs");
    if (i >= COUNTS.bigWarmup) ms.push(took);
  }
  return { ms, chars: text.length };
}

// Events from Python to the page: `burst(n)` asks Python to send n events and resolves
// when the page has received all n; the time runs from the request to the last event.
async function eventsPhase(burst) {
  const ms = [];
  for (let i = 0; i < 1 + COUNTS.bigRepeats; i++) {
    const took = await withDeadline(burst(COUNTS.events), COUNTS.deadlineMs);
    if (i >= 1) ms.push(took);
  }
  return { ms };
}

// Counts events 0..n-1 in order; `start()` triggers them.
async function countEvents(n, subscribe, start) {
  let got = 0;
  let done, fail;
  const all = new Promise((resolve, reject) => { done = resolve; fail = reject; });
  const unsubscribe = subscribe((i) => {
    if (i !== got) fail(new Error(`event ${i} arrived as number ${got}`));
    else if (++got === n) done();
  });
  const t = performance.now();
  await start();
  await all;
  const took = performance.now() - t;
  unsubscribe();
  return took;
}

async function timed(call) {
  const t = performance.now();
  const back = await call();
  return [performance.now() - t, back];
}

// --- pywebview js_api: JSON only, so the large payload is an ASCII string --------------
const pywebviewEcho = (value) => pywebview.api.echo(value);

// pywebview's way to reach page JS from Python: evaluate_js, one call per event.
const pywebviewBurst = (n) => countEvents(
  n,
  (fn) => { window.__benchTick = fn; return () => { window.__benchTick = null; }; },
  () => pywebview.api.burst(n),
);

async function pywebviewRoundTrip(size) {
  const sent = "0123456789abcdef".repeat(size / 16);
  const [ms, back] = await timed(() => pywebview.api.echo(sent));
  if (back !== sent) throw new Error(`the echoed string differs (length ${back.length})`);
  return ms;
}

// --- the Ramparts bridge: sample.echo (JSON), sample.echo_bytes (raw bytes) ------------
const rampartsEcho = (value) => ramparts.invoke("sample.echo", { value });

// Ramparts events: the app command `burst` calls ctx.emit("bench.tick", i) n times.
const rampartsBurst = (n) => countEvents(
  n,
  (fn) => ramparts.events.on("bench.tick", fn),
  () => ramparts.invoke("burst", { n }),
);

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

// --- PyTauri: pytauri's own client (pyInvoke over Tauri's ipc:// scheme) ---------------
// echo takes a typed body (pydantic parses the JSON, dumps the reply); echo_bytes raw bytes.
const pytauriEcho = (value) => window.__TAURI__.pytauri.pyInvoke("echo", value);

// Tauri events: the command `burst` calls Emitter.emit_str("bench-tick", i) n times. The
// listener is registered (an IPC call of its own) before the timed part starts.
async function pytauriBurst(n) {
  let handler = null;
  const unlisten = await window.__TAURI__.event.listen("bench-tick", (e) => handler(e.payload));
  try {
    return await countEvents(
      n,
      (fn) => { handler = fn; return () => { handler = () => {}; }; },
      () => window.__TAURI__.pytauri.pyInvoke("burst", n),
    );
  } finally {
    unlisten();
  }
}

async function pytauriRoundTrip(size) {
  const sent = new Uint8Array(size);
  for (let i = 0; i < size; i++) sent[i] = (i * 7) & 255;
  const [ms, buffer] = await timed(() => window.__TAURI__.pytauri.pyInvoke("echo_bytes", sent));
  const back = new Uint8Array(buffer);
  if (back.length !== size) throw new Error(`echo_bytes returned ${back.length} bytes, not ${size}`);
  for (let i = 0; i < size; i++) {
    if (back[i] !== sent[i]) throw new Error(`echo_bytes changed byte ${i}`);
  }
  return ms;
}
