// Ramparts relay: runs in an isolated JS world of the main frame (page scripts cannot
// see it or its `qt.webChannelTransport`). It forwards signed messages from the
// bootstrap to Python over QWebChannel, and Python's replies and events back.
(() => {
  "use strict";
  const NAMES = __RAMPARTS_RELAY__;
  if (window.top !== window) return;
  const doc = document;
  const send = (text) => doc.dispatchEvent(new CustomEvent(NAMES.fromRelay, { detail: text }));
  new QWebChannel(qt.webChannelTransport, (channel) => {
    const bridge = channel.objects[NAMES.object];
    bridge.deliver.connect(send);
    doc.addEventListener(NAMES.toRelay, (ev) => {
      const text = ev.detail;
      if (typeof text !== "string") return;
      // The bootstrap's wake-up request for its deadlines ({"wake": ms, "g": n}): for
      // a backend that answers it (``wake``); Qt's engine needs none (bootstrap.js).
      if (text[0] === "{") { if (typeof bridge.wake === "function") bridge.wake(text); return; }
      // A property write, not a method call: QWebChannel sends no response for it.
      bridge.inbox = text;
    });
    send('{"ready":true}');
  });
})();
