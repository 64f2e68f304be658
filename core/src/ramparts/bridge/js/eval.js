// Wraps a `ramparts dev --eval` script: its body runs as an async function in the page's
// main world (the page's privileges, no more); the outcome lands in a random global that
// the Python side polls.
(() => {
  const slot = __RAMPARTS_SLOT__;
  (async () => {
__RAMPARTS_SOURCE__
  })().then(
    (v) => { window[slot] = { ok: true, value: JSON.stringify(v === undefined ? null : v) }; },
    (e) => {
      const code = e && e.code ? e.code + ": " : "";
      window[slot] = { ok: false, error: code + String((e && e.stack) || e) };
    },
  );
  return "started";
})()
