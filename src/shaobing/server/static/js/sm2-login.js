/*
 * Shaobing SM2 certificate login: signs the server's challenge in the browser.
 *
 * Plain ES2020 (BigInt), no libraries, no build step. The private key never leaves the
 * page: it is read from a local PKCS#8 PEM file (what `shaobing ca issue` writes), and
 * only the signature and the certificate are sent to the server.
 *
 * Standards: SM3 hash GB/T 32905-2016; SM2 signature with Z_A GB/T 32918.2-2016 on the
 * curve of GB/T 32918.5-2017; default user ID and DER signature format GB/T 35276-2017.
 * The signed bytes must match shaobing.gm.challenge.challenge_message (Python).
 *
 * API: window.ShaobingSM2 (browser) or module.exports (node):
 *   signChallenge(keyPem, challenge, username) -> base64 DER signature
 *   challengeMessage(challenge, username)      -> Uint8Array
 *   certificateInfo(certPem)                    -> {commonName, serialHex, notBefore, notAfter, publicKeyHex}
 *   keyMatchesCertificate(keyPem, certPem)      -> boolean
 *   publicKeyHex(keyPem)                        -> uncompressed point, hex
 *   sm3Hex(bytes)                               -> hex digest
 */
(function () {
  "use strict";

  // ---- SM3 (GB/T 32905-2016) -------------------------------------------------------------

  const SM3_IV = [
    0x7380166f, 0x4914b2b9, 0x172442d7, 0xda8a0600, 0xa96f30bc, 0x163138aa, 0xe38dee4d, 0xb0fb0e4e,
  ];

  function rotl(x, n) {
    n %= 32;
    return ((x << n) | (x >>> (32 - n))) >>> 0;
  }

  function sm3(bytes) {
    const bitLen = bytes.length * 8;
    const padded = new Uint8Array((((bytes.length + 8) >> 6) + 1) * 64);
    padded.set(bytes);
    padded[bytes.length] = 0x80;
    const view = new DataView(padded.buffer);
    // Messages here are far below 2^32 bits; the high word of the length stays 0.
    view.setUint32(padded.length - 4, bitLen >>> 0);
    view.setUint32(padded.length - 8, Math.floor(bitLen / 0x100000000));
    let v = SM3_IV.slice();
    const w = new Array(68);
    const w1 = new Array(64);
    for (let off = 0; off < padded.length; off += 64) {
      for (let j = 0; j < 16; j++) w[j] = view.getUint32(off + 4 * j);
      for (let j = 16; j < 68; j++) {
        const x = w[j - 16] ^ w[j - 9] ^ rotl(w[j - 3], 15);
        const p1 = x ^ rotl(x, 15) ^ rotl(x, 23);
        w[j] = (p1 ^ rotl(w[j - 13], 7) ^ w[j - 6]) >>> 0;
      }
      for (let j = 0; j < 64; j++) w1[j] = (w[j] ^ w[j + 4]) >>> 0;
      let [a, b, c, d, e, f, g, h] = v;
      for (let j = 0; j < 64; j++) {
        const tj = j < 16 ? 0x79cc4519 : 0x7a879d8a;
        const ss1 = rotl((rotl(a, 12) + e + rotl(tj, j)) >>> 0, 7);
        const ss2 = (ss1 ^ rotl(a, 12)) >>> 0;
        const ff = j < 16 ? a ^ b ^ c : (a & b) | (a & c) | (b & c);
        const gg = j < 16 ? e ^ f ^ g : (e & f) | (~e & g);
        const tt1 = (ff + d + ss2 + w1[j]) >>> 0;
        const tt2 = (gg + h + ss1 + w[j]) >>> 0;
        d = c;
        c = rotl(b, 9);
        b = a;
        a = tt1;
        h = g;
        g = rotl(f, 19);
        f = e;
        e = (tt2 ^ rotl(tt2, 9) ^ rotl(tt2, 17)) >>> 0;
      }
      v = [a, b, c, d, e, f, g, h].map((x, i) => (x ^ v[i]) >>> 0);
    }
    const out = new Uint8Array(32);
    const outView = new DataView(out.buffer);
    v.forEach((x, i) => outView.setUint32(4 * i, x));
    return out;
  }

  // ---- bytes helpers --------------------------------------------------------------------

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }

  function toHex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function bytesToBig(bytes) {
    return bytes.length ? BigInt("0x" + toHex(bytes)) : 0n;
  }

  function bigToBytes(value, size) {
    const hex = value.toString(16).padStart(size * 2, "0");
    if (hex.length > size * 2) throw new Error("integer too large");
    const out = new Uint8Array(size);
    for (let i = 0; i < size; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
    return out;
  }

  const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

  function base64Encode(bytes) {
    let out = "";
    for (let i = 0; i < bytes.length; i += 3) {
      const n = (bytes[i] << 16) | ((bytes[i + 1] || 0) << 8) | (bytes[i + 2] || 0);
      out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63];
      out += i + 1 < bytes.length ? B64[(n >> 6) & 63] : "=";
      out += i + 2 < bytes.length ? B64[n & 63] : "=";
    }
    return out;
  }

  function base64Decode(text) {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
      throw new Error("invalid base64");
    }
    const clean = text.replace(/=+$/, "");
    const out = [];
    let bits = 0;
    let acc = 0;
    for (const ch of clean) {
      acc = (acc << 6) | B64.indexOf(ch);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out.push((acc >> bits) & 0xff);
      }
    }
    return Uint8Array.from(out);
  }

  function utf8(text) {
    return new TextEncoder().encode(text);
  }

  // ---- PEM and DER ----------------------------------------------------------------------

  const MAX_PEM = 64 * 1024;

  function pemDecode(pem, labels) {
    if (typeof pem !== "string" || pem.length > MAX_PEM) throw new Error("not a PEM file");
    const re = /-----BEGIN ([A-Z0-9 ]{1,40})-----\r?\n([\s\S]*?)\r?\n?-----END \1-----/g;
    let m;
    while ((m = re.exec(pem)) !== null) {
      if (labels.includes(m[1])) {
        if (m[2].includes(":")) throw new Error("encrypted PEM keys are not supported");
        return base64Decode(m[2].replace(/\s+/g, ""));
      }
    }
    throw new Error("no PEM block " + labels.join("/"));
  }

  // One TLV: {tag, start (of contents), end, children (for constructed)}; strict lengths.
  function derParse(buf, pos = 0, limit = buf.length, depth = 0) {
    if (depth > 20 || pos + 2 > limit) throw new Error("invalid DER");
    const tag = buf[pos];
    if ((tag & 0x1f) === 0x1f) throw new Error("invalid DER");
    let len = buf[pos + 1];
    let start = pos + 2;
    if (len === 0x80) throw new Error("invalid DER");
    if (len > 0x80) {
      const count = len & 0x7f;
      if (count > 4 || start + count > limit || buf[start] === 0) throw new Error("invalid DER");
      len = 0;
      for (let i = 0; i < count; i++) len = len * 256 + buf[start + i];
      if (len < 0x80) throw new Error("invalid DER");
      start += count;
    }
    const end = start + len;
    if (end > limit) throw new Error("invalid DER");
    const node = { tag, start, end, value: buf.subarray(start, end), children: [] };
    if (tag & 0x20) {
      let cur = start;
      while (cur < end) {
        const child = derParse(buf, cur, end, depth + 1);
        node.children.push(child);
        cur = child.next;
      }
    }
    node.next = end;
    return node;
  }

  function derDecode(bytes) {
    const node = derParse(bytes);
    if (node.next !== bytes.length) throw new Error("trailing data after DER");
    return node;
  }

  function oidHex(node) {
    if (node.tag !== 0x06) throw new Error("expected OID");
    return toHex(node.value);
  }

  // 1.2.840.10045.2.1 and 1.2.156.10197.1.301, as encoded OID contents.
  const OID_EC_PUBLIC_KEY = "2a8648ce3d0201";
  const OID_SM2_CURVE = "2a811ccf5501822d";
  const OID_COMMON_NAME = "550403";

  function derInteger(value) {
    let hex = value.toString(16);
    if (hex.length % 2) hex = "0" + hex;
    if (parseInt(hex.substr(0, 2), 16) >= 0x80) hex = "00" + hex;
    const body = bigToBytes(value, hex.length / 2);
    return concat(Uint8Array.of(0x02, body.length), body);
  }

  function derSequence(body) {
    if (body.length >= 0x80) {
      return concat(Uint8Array.of(0x30, 0x81, body.length), body);
    }
    return concat(Uint8Array.of(0x30, body.length), body);
  }

  // ---- SM2 (GB/T 32918.2-2016, curve of GB/T 32918.5-2017) ----------------------------------

  const P = 0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffffn;
  const A = 0xfffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffcn;
  const B = 0x28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93n;
  const N = 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n;
  const GX = 0x32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7n;
  const GY = 0xbc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0n;
  const DEFAULT_USER_ID = utf8("1234567812345678");
  const INF = [1n, 1n, 0n];

  function mod(a, m) {
    const r = a % m;
    return r < 0n ? r + m : r;
  }

  function modPow(base, exp, m) {
    let result = 1n;
    base = mod(base, m);
    while (exp > 0n) {
      if (exp & 1n) result = (result * base) % m;
      base = (base * base) % m;
      exp >>= 1n;
    }
    return result;
  }

  // Fermat inversion: both moduli are prime.
  function modInv(a, m) {
    return modPow(a, m - 2n, m);
  }

  function jDouble([x1, y1, z1]) {
    if (z1 === 0n || y1 === 0n) return INF;
    const zz = (z1 * z1) % P;
    const m = mod(3n * (x1 - zz) * (x1 + zz), P);
    const yy = (y1 * y1) % P;
    const s = (4n * x1 * yy) % P;
    const x3 = mod(m * m - 2n * s, P);
    const y3 = mod(m * (s - x3) - 8n * yy * yy, P);
    return [x3, y3, (2n * y1 * z1) % P];
  }

  function jAdd(p1, p2) {
    const [x1, y1, z1] = p1;
    const [x2, y2, z2] = p2;
    if (z1 === 0n) return p2;
    if (z2 === 0n) return p1;
    const z1z1 = (z1 * z1) % P;
    const z2z2 = (z2 * z2) % P;
    const u1 = (x1 * z2z2) % P;
    const u2 = (x2 * z1z1) % P;
    const s1 = (((y1 * z2) % P) * z2z2) % P;
    const s2 = (((y2 * z1) % P) * z1z1) % P;
    const h = mod(u2 - u1, P);
    const r = mod(s2 - s1, P);
    if (h === 0n) return r === 0n ? jDouble(p1) : INF;
    const hh = (h * h) % P;
    const hhh = (h * hh) % P;
    const v = (u1 * hh) % P;
    const x3 = mod(r * r - hhh - 2n * v, P);
    const y3 = mod(r * (v - x3) - s1 * hhh, P);
    return [x3, y3, (((z1 * z2) % P) * h) % P];
  }

  function multiply(k, point) {
    const table = [INF, point];
    for (let i = 2; i < 16; i++) table.push(jAdd(table[i - 1], point));
    let acc = INF;
    const hex = k.toString(16);
    for (const digit of hex) {
      for (let i = 0; i < 4; i++) acc = jDouble(acc);
      acc = jAdd(acc, table[parseInt(digit, 16)]);
    }
    return acc;
  }

  function affine([x, y, z]) {
    if (z === 0n) throw new Error("point at infinity");
    const zi = modInv(z, P);
    const zi2 = (zi * zi) % P;
    return [(x * zi2) % P, (((y * zi2) % P) * zi) % P];
  }

  function randomBytes(count) {
    const cryptoObj = typeof globalThis !== "undefined" ? globalThis.crypto : undefined;
    if (cryptoObj && typeof cryptoObj.getRandomValues === "function") {
      return cryptoObj.getRandomValues(new Uint8Array(count));
    }
    // Node before the Web Crypto global: its CSPRNG module.
    // eslint-disable-next-line no-undef
    return new Uint8Array(require("crypto").randomBytes(count));
  }

  // Uniform k in [1, n-1] by rejection sampling (no modulo bias).
  function randomScalar() {
    for (;;) {
      const k = bytesToBig(randomBytes(32));
      if (k >= 1n && k < N) return k;
    }
  }

  function publicPoint(d) {
    return affine(multiply(d, [GX, GY, 1n]));
  }

  function computeZa([x, y], userId = DEFAULT_USER_ID) {
    const entl = userId.length * 8;
    return sm3(
      concat(
        Uint8Array.of((entl >> 8) & 0xff, entl & 0xff),
        userId,
        ...[A, B, GX, GY, x, y].map((v) => bigToBytes(v, 32)),
      ),
    );
  }

  function sign(d, message) {
    if (d < 1n || d > N - 2n) throw new Error("SM2 private key out of range");
    const pub = publicPoint(d);
    const e = bytesToBig(sm3(concat(computeZa(pub), message)));
    const inv = modInv(1n + d, N);
    for (;;) {
      const k = randomScalar();
      const [x1] = affine(multiply(k, [GX, GY, 1n]));
      const r = mod(e + x1, N);
      if (r === 0n || r + k === N) continue;
      const s = mod(inv * (k - r * d), N);
      if (s !== 0n) return [r, s];
    }
  }

  // ---- keys and certificates ------------------------------------------------------------

  function privateScalar(keyPem) {
    const der = pemDecode(keyPem, ["PRIVATE KEY", "EC PRIVATE KEY"]);
    let node = derDecode(der);
    let curve = null;
    // PKCS#8: SEQUENCE { INTEGER 0, AlgorithmIdentifier, OCTET STRING ECPrivateKey }.
    if (node.children.length >= 3 && node.children[1].tag === 0x30) {
      const alg = node.children[1].children;
      if (oidHex(alg[0]) !== OID_EC_PUBLIC_KEY) throw new Error("not an EC/SM2 private key");
      curve = alg[1] && alg[1].tag === 0x06 ? oidHex(alg[1]) : null;
      if (node.children[2].tag !== 0x04) throw new Error("invalid PKCS#8 key");
      node = derDecode(node.children[2].value);
    }
    // ECPrivateKey: SEQUENCE { INTEGER 1, OCTET STRING d, [0] curve OPTIONAL, [1] pub OPTIONAL }.
    const parts = node.children;
    if (parts.length < 2 || parts[1].tag !== 0x04 || parts[1].value.length !== 32) {
      throw new Error("invalid EC private key");
    }
    for (const extra of parts.slice(2)) {
      if (extra.tag === 0xa0) curve = oidHex(extra.children[0]);
    }
    if (curve !== OID_SM2_CURVE) throw new Error("not an SM2 private key");
    return bytesToBig(parts[1].value);
  }

  function readTime(node) {
    const text = new TextDecoder().decode(node.value);
    const m =
      node.tag === 0x17
        ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
        : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
    if (!m) throw new Error("invalid certificate time");
    let year = parseInt(m[1], 10);
    if (node.tag === 0x17) year += year >= 50 ? 1900 : 2000;
    return new Date(Date.UTC(year, +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
  }

  function certificateInfo(certPem) {
    const cert = derDecode(pemDecode(certPem, ["CERTIFICATE"]));
    const tbs = cert.children[0].children.slice();
    if (tbs[0].tag === 0xa0) tbs.shift();
    const [serial, , , validity, subject, spki] = tbs;
    let commonName = null;
    for (const rdn of subject.children) {
      for (const atv of rdn.children) {
        if (oidHex(atv.children[0]) === OID_COMMON_NAME) {
          commonName = new TextDecoder().decode(atv.children[1].value);
        }
      }
    }
    const alg = spki.children[0].children;
    if (oidHex(alg[0]) !== OID_EC_PUBLIC_KEY || !alg[1] || oidHex(alg[1]) !== OID_SM2_CURVE) {
      throw new Error("certificate key is not SM2");
    }
    return {
      commonName,
      serialHex: toHex(serial.value).replace(/^00(?=[89a-f])/, ""),
      notBefore: readTime(validity.children[0]),
      notAfter: readTime(validity.children[1]),
      publicKeyHex: toHex(spki.children[1].value.subarray(1)),
    };
  }

  function publicKeyHex(keyPem) {
    const [x, y] = publicPoint(privateScalar(keyPem));
    return "04" + toHex(bigToBytes(x, 32)) + toHex(bigToBytes(y, 32));
  }

  function keyMatchesCertificate(keyPem, certPem) {
    return publicKeyHex(keyPem) === certificateInfo(certPem).publicKeyHex;
  }

  // ---- the login message ----------------------------------------------------------------

  const DOMAIN_PREFIX = "shaobing-sm2-login-v1\n";
  const CHALLENGE_RE = /^[A-Za-z0-9_-]{22,128}$/;
  // Same rule as shaobing.auth.service.USERNAME_PATTERN after trim + lower-case.
  const USERNAME_RE = /^[a-z0-9][a-z0-9._-]{1,63}$/;

  function challengeMessage(challenge, username) {
    if (!CHALLENGE_RE.test(challenge)) throw new Error("invalid login challenge");
    const name = String(username).trim().toLowerCase();
    if (!USERNAME_RE.test(name)) throw new Error("invalid user name");
    return utf8(DOMAIN_PREFIX + challenge + "\n" + name);
  }

  function signChallenge(keyPem, challenge, username) {
    const message = challengeMessage(challenge, username);
    const [r, s] = sign(privateScalar(keyPem), message);
    return base64Encode(derSequence(concat(derInteger(r), derInteger(s))));
  }

  const api = Object.freeze({
    signChallenge,
    challengeMessage,
    certificateInfo,
    keyMatchesCertificate,
    publicKeyHex,
    sm3Hex: (bytes) => toHex(sm3(bytes instanceof Uint8Array ? bytes : utf8(String(bytes)))),
  });

  if (typeof module !== "undefined" && module.exports) {
    module.exports = api;
  }
  if (typeof window !== "undefined") {
    window.ShaobingSM2 = api;
  }
})();
