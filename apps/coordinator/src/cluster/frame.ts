/**
 * One message between coordinator nodes as bytes (Redis carries binary): JSON with every typed array (a masked
 * vector, a model, a released mean) moved out into length-prefixed attachments, so binary is never
 * base64'd and comes back as the same kind of array. Layout: u32 JSON length, JSON, then per attachment u32
 * length and its bytes (little-endian).
 */

const KINDS = {
  Uint8Array,
  Int8Array,
  Uint16Array,
  Int16Array,
  Uint32Array,
  Int32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
} as const;
type Kind = keyof typeof KINDS;
type Typed = InstanceType<(typeof KINDS)[Kind]>;

const MARK = '\u0000bin';

function kindOf(v: ArrayBufferView): Kind {
  for (const k of Object.keys(KINDS) as Kind[]) if (v instanceof KINDS[k]) return k;
  return 'Uint8Array';
}

export function encodeFrame(value: unknown): Buffer {
  const parts: Uint8Array[] = [];
  const json = JSON.stringify(value, function (this: unknown, key: string) {
    // The replacer's `this[key]` is the raw value: toJSON (a Buffer's) has not turned it into an object yet.
    const raw = (this as Record<string, unknown>)[key];
    if (ArrayBuffer.isView(raw) && !(raw instanceof DataView)) {
      parts.push(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength));
      return { [MARK]: parts.length - 1, k: kindOf(raw) };
    }
    return raw === undefined ? undefined : (raw as unknown);
  });
  const head = Buffer.from(json ?? 'null', 'utf8');
  let size = 4 + head.length + 4;
  for (const p of parts) size += 4 + p.byteLength;
  const out = Buffer.allocUnsafe(size);
  let at = out.writeUInt32LE(head.length, 0);
  at += head.copy(out, at);
  at = out.writeUInt32LE(parts.length, at);
  for (const p of parts) {
    at = out.writeUInt32LE(p.byteLength, at);
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

export class FrameError extends Error {}

export function decodeFrame(bytes: Uint8Array): unknown {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (at: number, n: number) => {
    if (at + n > b.length) throw new FrameError('truncated frame');
  };
  need(0, 4);
  const jsonLength = b.readUInt32LE(0);
  need(4, jsonLength + 4);
  const json = b.toString('utf8', 4, 4 + jsonLength);
  let at = 4 + jsonLength;
  const count = b.readUInt32LE(at);
  at += 4;
  const parts: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    need(at, 4);
    const n = b.readUInt32LE(at);
    at += 4;
    need(at, n);
    // Copied out: the attachment owns its buffer (aligned for any element size).
    parts.push(new Uint8Array(b.subarray(at, at + n)));
    at += n;
  }
  return JSON.parse(json, (_key, v) => {
    if (v && typeof v === 'object' && MARK in v) {
      const part = parts[(v as Record<string, number>)[MARK]!];
      const Ctor = KINDS[(v as { k: Kind }).k];
      if (!part || !Ctor) throw new FrameError('bad attachment');
      return new (Ctor as unknown as new (b: ArrayBufferLike, o: number, n: number) => Typed)(part.buffer, 0, part.byteLength / Ctor.BYTES_PER_ELEMENT);
    }
    return v;
  });
}
