// Wraps a `ramparts dev --eval` script: its body runs as an async function in the page's
// main world (the page's privileges, no more); the outcome lands in a random global that
// the Python side polls.
(() => {
  const slot = __RAMPARTS_SLOT__;
  // An error as "Name: message", then its stack if that adds anything: V8's stack starts
  // with that line, JavaScriptCore's holds only the frames.
  const describe = (e) => {
    const head = String(e);
    const stack = e && typeof e.stack === "string" ? e.stack : "";
    if (!stack || stack === head) return head;
    return stack.startsWith(head) ? stack : head + "\n" + stack;
  };
  (async () => {
__RAMPARTS_SOURCE__
  })().then(
    (v) => { window[slot] = { ok: true, value: JSON.stringify(v === undefined ? null : v) }; },
    (e) => {
      const code = e && e.code ? e.code + ": " : "";
      let text;
      try { text = describe(e); } catch (_) { text = "a value that cannot be shown as text"; }
      window[slot] = { ok: false, error: code + text };
    },
  );
  return "started";
})()
