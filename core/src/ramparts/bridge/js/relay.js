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
      // A property write, not a method call: QWebChannel sends no response for it.
      if (typeof ev.detail === "string") bridge.inbox = ev.detail;
    });
    send('{"ready":true}');
  });
})();
