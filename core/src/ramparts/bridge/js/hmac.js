// HMAC-SHA-256 (RFC 2104, FIPS 180-4), synchronous, for the bootstrap's small messages.
//
// Why not only WebCrypto: `crypto.subtle.sign` is asynchronous; its result comes back
// through a task on another thread, which cost about 120 us of every small call's
// ~600 us here (hashing a small message in JS takes a few us). WebCrypto stays for
// channel messages over 4 KiB and for binary bodies: it is native and ~7x faster per
// byte than this code (~750 against ~100 MB/s here).
//
// Spliced into bootstrap.js as an expression. `hmacSha256(key)` hashes the padded key
// into the inner and outer midstates at once and keeps only those (the caller zeroes
// its key bytes): it returns `mac(data)`, a Uint8Array of 32 bytes. While signing it uses
// only typed-array indexing, integer arithmetic and a `length` getter captured when it is
// made: a page that replaces the shared typed-array `length` getter must not see these
// arrays (it could read the states, which sign as well as the key).
(() => {
  "use strict";
  const K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ]);
  const IV = new Uint32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ]);
  const W = new Uint32Array(64);
  const U8 = Uint8Array, U32 = Uint32Array;
  const apply = Reflect.apply;
  const taLength = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(U8.prototype), "length").get;

  // One 64-byte block of `bytes` at `at` into the state `h` (8 words), in place.
  function block(h, bytes, at) {
    for (let i = 0; i < 16; i++, at += 4) {
      W[i] = (bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3];
    }
    for (let i = 16; i < 64; i++) {
      const a = W[i - 15], b = W[i - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0;
    }
    let a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (k + S1 + ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      k = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
  }

  // SHA-256 of (64 bytes already folded into `start`) + `data`: the 32-byte digest.
  function finish(start, data) {
    const h = new U32(start);
    const n = apply(taLength, data, []);
    let at = 0;
    for (; at + 64 <= n; at += 64) block(h, data, at);
    const rest = n - at;
    const end = rest < 56 ? 64 : 128;
    const tail = new U8(end);
    for (let i = 0; i < rest; i++) tail[i] = data[at + i];
    tail[rest] = 0x80;
    // Length in bits of the whole message (64 key-pad bytes + data), big-endian in the
    // last 8 bytes. `>>> 0` truncates and wraps without calling anything patchable.
    const hi = ((n + 64) / 0x20000000) >>> 0, lo = ((n + 64) * 8) >>> 0;
    tail[end - 8] = hi >>> 24; tail[end - 7] = hi >>> 16; tail[end - 6] = hi >>> 8; tail[end - 5] = hi;
    tail[end - 4] = lo >>> 24; tail[end - 3] = lo >>> 16; tail[end - 2] = lo >>> 8; tail[end - 1] = lo;
    for (let i = 0; i < end; i += 64) block(h, tail, i);
    const out = new U8(32);
    for (let i = 0; i < 8; i++) {
      out[i * 4] = h[i] >>> 24; out[i * 4 + 1] = h[i] >>> 16;
      out[i * 4 + 2] = h[i] >>> 8; out[i * 4 + 3] = h[i];
    }
    return out;
  }

  return function hmacSha256(key) {
    const k = apply(taLength, key, []);
    if (k > 64) throw new RangeError("HMAC keys longer than one block are not used here");
    const pad = new U8(64);
    const inner = new U32(IV), outer = new U32(IV);
    for (let i = 0; i < 64; i++) pad[i] = (i < k ? key[i] : 0) ^ 0x36;
    block(inner, pad, 0);
    for (let i = 0; i < 64; i++) pad[i] = (i < k ? key[i] : 0) ^ 0x5c;
    block(outer, pad, 0);
    for (let i = 0; i < 64; i++) { pad[i] = 0; W[i] = 0; } // no trace of the key's pads
    return (data) => finish(outer, finish(inner, data));
  };
})()
