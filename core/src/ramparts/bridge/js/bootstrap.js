// Ramparts bootstrap: injected into the app's main frame, main world, at document
// creation, before any page script. Generated per session: the session key, the random
// command handles and the relay's event names are spliced in as CONFIG.
// Everything lives in this closure; the page sees only the frozen `window.ramparts`.
(() => {
  "use strict";
  const CONFIG = __RAMPARTS_CONFIG__;
  // Only the app's own origin, only the top frame (the Python side checks again).
  if (window.top !== window || window.location.origin !== CONFIG.origin) return;

  // Capture every primitive we rely on now, before page scripts can patch them.
  const O = Object, freeze = O.freeze, create = O.create, defineProperty = O.defineProperty;
  const hasOwn = O.prototype.hasOwnProperty;
  const JSONstringify = JSON.stringify, JSONparse = JSON.parse;
  const apply = Reflect.apply;
  const ArrayIsArray = Array.isArray;
  const U8 = Uint8Array, AB = ArrayBuffer, ABisView = ArrayBuffer.isView, DV = DataView;
  // `length` of a typed array is a getter on a prototype all typed arrays share, which a
  // page can replace: one that saw the signer's arrays could read the HMAC's states.
  const taLength = O.getOwnPropertyDescriptor(O.getPrototypeOf(U8.prototype), "length").get;
  const lengthOf = (a) => apply(taLength, a, []);
  const dvGetU32 = DataView.prototype.getUint32, dvSetU32 = DataView.prototype.setUint32;
  const u8Set = Uint8Array.prototype.set, u8Sub = Uint8Array.prototype.subarray;
  const PromiseC = Promise, promiseThen = Promise.prototype.then;
  const MapC = Map, mapGet = Map.prototype.get, mapSet = Map.prototype.set, mapDelete = Map.prototype.delete;
  const mapForEach = Map.prototype.forEach;
  const mapHas = Map.prototype.has;
  const pushA = Array.prototype.push, shiftA = Array.prototype.shift, spliceA = Array.prototype.splice;
  const ErrorC = Error;
  const encoder = new TextEncoder(), decoder = new TextDecoder();
  const encode = TextEncoder.prototype.encode, decode = TextDecoder.prototype.decode;
  const subtle = crypto.subtle, sign = SubtleCrypto.prototype.sign;
  const importKey = SubtleCrypto.prototype.importKey;
  const getRandomValues = Crypto.prototype.getRandomValues, cryptoObj = crypto;
  const fetchF = window.fetch, win = window;
  const respArrayBuffer = Response.prototype.arrayBuffer;
  const respStatus = O.getOwnPropertyDescriptor(Response.prototype, "status").get;
  const CustomEventC = CustomEvent, doc = document;
  const dispatchEvent = EventTarget.prototype.dispatchEvent;
  const addEventListener = EventTarget.prototype.addEventListener;
  const detailGet = O.getOwnPropertyDescriptor(CustomEvent.prototype, "detail").get;
  const btoaF = btoa, fromCharCode = String.fromCharCode, strReplace = String.prototype.replace;
  const strSlice = String.prototype.slice;
  const queueMicrotask_ = queueMicrotask;
  const perfNow = Performance.prototype.now, perf = performance;
  const abortTimeout = AbortSignal.timeout, AbortSignalC = AbortSignal;
  const hmacSha256 = __RAMPARTS_HMAC__;
  // window.length is [Replaceable]: keep the getter, not whatever the page puts there.
  const framesLength = (O.getOwnPropertyDescriptor(win, "length") ||
    O.getOwnPropertyDescriptor(Window.prototype, "length")).get;

  // --- the session key: imported non-extractable, the hex dropped ---------------
  let keyHex = CONFIG.key;
  CONFIG.key = null;
  const rawKey = new U8(32);
  for (let i = 0; i < 32; i++) rawKey[i] = parseInt(keyHex.substr(i * 2, 2), 16);
  keyHex = null;
  // Two signers over the same key. WebCrypto is native and fast per byte (~750 MB/s
  // here) but answers through a task from another thread (~120 us of a small call);
  // js/hmac.js answers at once but hashes ~100 MB/s. So: js/hmac.js for channel
  // messages up to SYNC_MAC_MAX bytes (nearly every call and event), WebCrypto for
  // larger ones and for binary bodies. importKey copies the key when called.
  const SYNC_MAC_MAX = 4096;
  // JSON-only calls larger than this (characters) use the binary carrier (see invoke).
  const CHANNEL_JSON_MAX = 65536;
  const keyPromise = apply(importKey, subtle, ["raw", rawKey, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]]);
  const macSmall = hmacSha256(rawKey);
  for (let i = 0; i < 32; i++) rawKey[i] = 0;

  class RampartsError extends ErrorC {
    constructor(code, message, data) {
      super(message);
      this.name = "RampartsError";
      this.code = code;
      if (data !== undefined) this.data = data;
    }
  }

  let seq = 0;
  const pending = new MapC(); // callback id -> [resolve, reject, name]: deleted when it fires
  const late = new MapC(); // per-call: callback id past its deadline -> name (for its `n`)
  const deadlines = new MapC(); // name -> ms the page waits for a reply (null: forever)
  for (const n of O.keys(CONFIG.deadlines)) apply(mapSet, deadlines, [n, CONFIG.deadlines[n]]);
  const listeners = new MapC(); // event name -> array of functions
  const handles = CONFIG.handles; // name -> [handle, ...] (a pool in per-call mode)
  const waiting = new MapC(); // name -> queue of resolvers waiting for a per-call handle
  const binary = new MapC();
  for (const n of CONFIG.binary) apply(mapSet, binary, [n, true]);
  const uiEvents = new MapC();
  for (const n of CONFIG.uiEvents) apply(mapSet, uiEvents, [n, true]);

  function callbackId() {
    const b = apply(getRandomValues, cryptoObj, [new U8(16)]);
    let s = "";
    for (let i = 0; i < 16; i++) s += (b[i] < 16 ? "0" : "") + b[i].toString(16);
    return s;
  }

  // HMAC over bytes that already start with their tag byte: no copy of a large body.
  async function macTagged(tagged) {
    const key = await keyPromise;
    return new U8(await apply(sign, subtle, ["HMAC", key, tagged]));
  }

  function b64url(u8) {
    let s = "";
    for (let i = 0, n = lengthOf(u8); i < n; i++) s += fromCharCode(u8[i]);
    return apply(strReplace, apply(strReplace, apply(strReplace, btoaF(s), [/\+/g, "-"]), [/\//g, "_"]), [/=+$/, ""]);
  }

  // --- the channel carrier: DOM events to the isolated-world relay ---------------
  let relayReady = false;
  const outbox = [];
  function toRelay(text) {
    if (!relayReady) { apply(pushA, outbox, [text]); return; }
    apply(dispatchEvent, doc, [new CustomEventC(CONFIG.toRelay, { detail: text })]);
  }
  apply(addEventListener, doc, [CONFIG.fromRelay, (ev) => {
    const text = apply(detailGet, ev, []);
    if (typeof text !== "string") return;
    let msg;
    try { msg = JSONparse(text); } catch (e) { return; }
    if (msg.ready === true) {
      relayReady = true;
      while (outbox.length) toRelay(apply(shiftA, outbox, []));
      return;
    }
    if (apply(hasOwn, msg, ["tick"])) { if (msg.tick === generation) sweep(); return; }
    deliver(msg, null);
  }]);

  function deliver(msg, binaryBuf) {
    if (typeof msg.ev === "string") {
      const fns = apply(mapGet, listeners, [msg.ev]);
      if (fns) for (const fn of [...fns]) { try { fn(msg.p); } catch (e) { queueMicrotask_(() => { throw e; }); } }
      return;
    }
    const entry = apply(mapGet, pending, [msg.c]);
    if (!entry) { // unknown, already used or past its deadline: resolves nothing
      const name = apply(mapGet, late, [msg.c]);
      if (name === undefined) return;
      apply(mapDelete, late, [msg.c]); // but its next handle is live: keep the pool whole
      if (typeof msg.n === "string") giveHandle(name, msg.n);
      return;
    }
    apply(mapDelete, pending, [msg.c]); // one-time: the resolver is gone before it runs
    if (typeof msg.n === "string") giveHandle(entry[2], msg.n);
    if (msg.ok) entry[0](binaryBuf && binaryBuf.length ? splice(msg.r, binaryBuf) : msg.r);
    else {
      const e = msg.e || {};
      entry[1](new RampartsError(String(e.code || "failed"), String(e.message || "call failed"), e.data));
    }
  }

  // --- call deadlines: one timer for every call in flight ------------------------
  // A timer per call (set, then cleared on the reply) cost ~25 us of each small call;
  // calls settle long before their deadlines, so one timer, set for the earliest
  // deadline, does. Not a setTimeout: timer ids are shared with the page, and a "clear
  // every timeout" loop would cancel ours and with it every later deadline. Two clocks
  // the page cannot cancel instead: an AbortSignal.timeout (Chromium's is no DOM timer;
  // JavaScriptCore's is, and that loop cancels it too), and a wake-up asked of the relay,
  // which a backend whose engine needs it answers from Python with a {"tick"} message
  // (the GTK backend; Qt's relay ignores the request). A replaced timer still fires;
  // its generation no longer matches and it does nothing. Delays are capped at ~24.8
  // days and the sweep re-arms for what is left.
  const expiries = new MapC(); // token -> [at ms, fn]: deleted when the call settles
  let lastToken = 0, armedAt = Infinity, generation = 0;
  function armDeadline(ms, fn) {
    const at = apply(perfNow, perf, []) + ms, token = ++lastToken;
    apply(mapSet, expiries, [token, [at, fn]]);
    if (at < armedAt) rearm(at);
    return token;
  }
  function rearm(at) {
    const mine = ++generation;
    armedAt = at;
    if (at === Infinity) return;
    // +1: a fractional delay is truncated, and a sweep a little early finds nothing due.
    const wait = at - apply(perfNow, perf, []) + 1;
    const ms = wait < 0 ? 0 : wait > 0x7fffffff ? 0x7fffffff : wait;
    const signal = apply(abortTimeout, AbortSignalC, [ms]);
    apply(addEventListener, signal, ["abort", () => { if (mine === generation) sweep(); }]);
    toRelay(JSONstringify({ wake: ms, g: mine })); // "{": no signed message starts so
  }
  function sweep() {
    const now = apply(perfNow, perf, []);
    const due = new MapC(); // not an array: a page setter on Array.prototype[0] would see it
    let next = Infinity;
    apply(mapForEach, expiries, [(entry, token) => {
      if (entry[0] <= now) { apply(mapSet, due, [token, entry[1]]); apply(mapDelete, expiries, [token]); }
      else if (entry[0] < next) next = entry[0];
    }]);
    rearm(next);
    apply(mapForEach, due, [(fn) => { try { fn(); } catch (e) { queueMicrotask_(() => { throw e; }); } }]);
  }

  // --- handles ------------------------------------------------------------------
  function takeHandle(name) {
    const pool = handles[name];
    if (!CONFIG.perCall) return pool[0];
    if (pool.length) return apply(shiftA, pool, []);
    return new PromiseC((resolve) => {
      let q = apply(mapGet, waiting, [name]);
      if (!q) { q = []; apply(mapSet, waiting, [name, q]); }
      apply(pushA, q, [resolve]);
    });
  }
  function giveHandle(name, handle) {
    const q = apply(mapGet, waiting, [name]);
    if (q && q.length) apply(shiftA, q, [])(handle);
    else apply(pushA, handles[name], [handle]);
  }

  // --- the binary carrier: fetch to the app scheme --------------------------------
  function collect(value, segs, depth) {
    if (depth > 64) throw new RampartsError("invalid_args", "arguments are nested too deeply");
    if (value instanceof AB) { apply(pushA, segs, [new U8(value)]); return { $bytes: segs.length - 1 }; }
    if (ABisView(value)) {
      apply(pushA, segs, [new U8(value.buffer, value.byteOffset, value.byteLength)]);
      return { $bytes: segs.length - 1 };
    }
    if (ArrayIsArray(value)) return value.map((v) => collect(v, segs, depth + 1));
    if (value !== null && typeof value === "object") {
      if (apply(hasOwn, value, ["$bytes"])) throw new RampartsError("invalid_args", "'$bytes' is a reserved key");
      const out = {};
      for (const k of O.keys(value)) out[k] = collect(value[k], segs, depth + 1);
      return out;
    }
    return value;
  }
  function splice(value, buf) {
    if (ArrayIsArray(value)) return value.map((v) => splice(v, buf));
    if (value !== null && typeof value === "object") {
      const ks = O.keys(value);
      if (ks.length === 1 && ks[0] === "$bytes") return buf[value.$bytes];
      const out = {};
      for (const k of ks) out[k] = splice(value[k], buf);
      return out;
    }
    return value;
  }

  // `json`: the header already as JSON text, "b" included (a large JSON-only call).
  async function sendBinary(header, segs, json) {
    if (json === undefined) {
      header.b = segs.map((s) => s.length);
      json = JSONstringify(header);
    }
    const hj = apply(encode, encoder, [json]);
    let total = 32 + 4 + hj.length;
    for (const s of segs) total += s.length;
    const body = new U8(total);
    apply(dvSetU32, new DV(body.buffer), [32, hj.length]);
    apply(u8Set, body, [hj, 36]);
    let pos = 36 + hj.length;
    for (const s of segs) { apply(u8Set, body, [s, pos]); pos += s.length; }
    // The tag byte goes just before what the MAC covers, in the MAC's own slot (which the
    // MAC then overwrites): the body is signed where it is, not copied first.
    body[31] = 0x42;
    apply(u8Set, body, [await macTagged(apply(u8Sub, body, [31])), 0]);
    // ?n= is the body length: Qt can only read a request body in one piece of known size.
    const url = CONFIG.ipcUrl + "?n=" + total;
    const resp = await apply(fetchF, win, [url, { method: "POST", body, cache: "no-store" }]);
    const buf = await apply(respArrayBuffer, resp, []);
    if (apply(respStatus, resp, []) !== 200) throw new RampartsError("rejected", "the bridge rejected the message");
    const hlen = apply(dvGetU32, new DV(buf), [0]);
    const reply = JSONparse(apply(decode, decoder, [new U8(buf, 4, hlen)]));
    const parts = [];
    let at = 4 + hlen;
    for (const n of reply.b || []) { apply(pushA, parts, [new U8(buf, at, n)]); at += n; }
    deliver(reply, parts);
  }

  // A same-origin child frame (srcdoc, about:blank) can call through `parent.ramparts`.
  // Python refuses calls while one exists when a message *arrives*; checking when the
  // call is *made* also stops a frame that calls and then removes itself before then.
  const FRAME_REFUSAL = "the bridge does not answer while the page holds a same-origin frame " +
    "(about:blank, srcdoc): such a frame could call through the parent";
  function sameOriginFrame() {
    const n = apply(framesLength, win, []);
    for (let i = 0; i < n; i++) {
      try { void win[i].document; return true; } catch (e) { /* another origin: cannot reach us */ }
    }
    return false;
  }

  // Channel messages leave in the order they were sent: a small one waits behind a
  // larger one still being signed by WebCrypto. (Out of order, 4,096 small messages
  // overtaking a large one would push it below Python's replay window.)
  const outQueue = []; // [tagged, json, done, fail]
  let signing = false;
  function sendChannel(header, json = JSONstringify(header)) {
    const bytes = apply(encode, encoder, [json]);
    const tagged = new U8(lengthOf(bytes) + 1);
    tagged[0] = 0x43;
    apply(u8Set, tagged, [bytes, 1]);
    return new PromiseC((done, fail) => {
      apply(pushA, outQueue, [[tagged, json, done, fail]]);
      if (!signing) pump();
    });
  }
  function pump() {
    while (outQueue.length) {
      const item = outQueue[0], tagged = item[0], json = item[1];
      if (lengthOf(tagged) <= SYNC_MAC_MAX) {
        apply(shiftA, outQueue, []);
        toRelay(b64url(macSmall(tagged)) + "." + json);
        item[2]();
        continue;
      }
      signing = true;
      const next = (ok) => (value) => {
        apply(shiftA, outQueue, []);
        signing = false;
        if (ok) { toRelay(b64url(value) + "." + json); item[2](); } else item[3](value);
        pump();
      };
      apply(promiseThen, macTagged(tagged), [next(true), next(false)]);
      return;
    }
  }

  function invoke(name, args) {
    return new PromiseC((resolve, reject) => {
      if (sameOriginFrame()) { reject(new RampartsError("not_allowed", FRAME_REFUSAL)); return; }
      if (typeof name !== "string" || !apply(hasOwn, handles, [name])) {
        reject(new RampartsError("not_allowed", `no command '${name}' is allowed in this window`));
        return;
      }
      if (args === undefined) args = {};
      if (args === null || typeof args !== "object" || ArrayIsArray(args)) {
        reject(new RampartsError("invalid_args", "arguments must be an object of named values"));
        return;
      }
      // A deadline, so a call Python never answers (queued behind hung commands, or
      // dropped) still settles. It counts from here: waiting for a handle counts too.
      const ms = apply(mapGet, deadlines, [name]);
      let c = null, expired = false;
      const timer = ms == null ? 0 : armDeadline(ms, () => {
        expired = true;
        if (c !== null && apply(mapHas, pending, [c])) {
          apply(mapDelete, pending, [c]);
          if (CONFIG.perCall) apply(mapSet, late, [c, name]);
        }
        reject(new RampartsError("timeout", `${name} got no answer within ${ms / 1000} s`));
      });
      const settle = (fn) => (v) => { if (timer) apply(mapDelete, expiries, [timer]); fn(v); };
      const ok = settle(resolve), fail = settle(reject);
      const run = async () => {
        const segs = [];
        const a = collect(args, segs, 0);
        const handle = await takeHandle(name);
        if (expired) { if (CONFIG.perCall) giveHandle(name, handle); return; } // never sent
        c = callbackId();
        apply(mapSet, pending, [c, [ok, fail, name]]);
        const header = { s: ++seq, h: handle, c, a };
        try {
          if (segs.length || apply(mapHas, binary, [name])) await sendBinary(header, segs);
          else {
            // A large JSON call goes by fetch too: one JSON layer each way instead of
            // the channel's JSON-in-JSON (escaped twice, parsed twice), same MAC and seq.
            const json = JSONstringify(header);
            if (json.length > CHANNEL_JSON_MAX) {
              await sendBinary(header, segs, '{"b":[],' + apply(strSlice, json, [1]));
            } else await sendChannel(header, json);
          }
        } catch (e) {
          // A rejected message never reached the handle table: the handle is still live.
          if (CONFIG.perCall && e instanceof RampartsError && e.code === "rejected") {
            apply(mapDelete, late, [c]);
            giveHandle(name, handle);
          }
          if (apply(mapHas, pending, [c])) { apply(mapDelete, pending, [c]); fail(e); }
        }
      };
      apply(promiseThen, run(), [undefined, fail]);
    });
  }

  const events = freeze({
    on(name, fn) {
      if (typeof fn !== "function") throw new TypeError("ramparts.events.on needs a function");
      let fns = apply(mapGet, listeners, [name]);
      if (!fns) { fns = []; apply(mapSet, listeners, [name, fns]); }
      apply(pushA, fns, [fn]);
      return () => { const i = fns.indexOf(fn); if (i >= 0) apply(spliceA, fns, [i, 1]); };
    },
    async emit(name, payload) {
      if (sameOriginFrame()) throw new RampartsError("not_allowed", FRAME_REFUSAL);
      if (!apply(mapHas, uiEvents, [name])) {
        throw new RampartsError("not_allowed", `event '${name}' is not declared in [tool.ramparts.events] from_ui`);
      }
      await sendChannel({ s: ++seq, e: name, p: payload === undefined ? null : payload });
    },
  });

  const api = create(null);
  api.invoke = invoke;
  api.events = events;
  api.Error = RampartsError;
  api.stats = () => freeze({ pending: pending.size, queued: outbox.length });
  const namespaces = create(null);
  for (const full of O.keys(handles)) {
    const dot = full.indexOf(".");
    if (dot < 0) continue;
    const cap = full.slice(0, dot), cmd = full.slice(dot + 1);
    if (!namespaces[cap]) namespaces[cap] = create(null);
    namespaces[cap][cmd] = (args) => invoke(full, args);
  }
  for (const cap of O.keys(namespaces)) api[cap] = freeze(namespaces[cap]);
  defineProperty(win, "ramparts", { value: freeze(api), writable: false, configurable: false, enumerable: false });
})();
