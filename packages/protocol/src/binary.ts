/**
 * Binary fields on the wire. Vectors travel as raw little-endian bytes (Socket.IO sends them as binary
 * attachments: Buffer in Node, ArrayBuffer in browsers), never as JSON arrays of numbers.
 */
import { bytesAsWords, wordsAsBytes } from '@hushfl/secagg';
import { z } from 'zod';

const isLittleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Accepts Uint8Array (incl. Buffer), any ArrayBuffer view, or an ArrayBuffer; yields a Uint8Array. */
export function asBytes(v: unknown): Uint8Array | undefined {
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return undefined;
}

/** A binary field, optionally of an exact or maximum length. */
export function bytes(opts: { length?: number; max?: number } = {}) {
  return z
    .custom<Uint8Array>((v) => asBytes(v) !== undefined, { message: 'expected binary data' })
    .transform((v, ctx) => {
      const b = asBytes(v)!;
      if (opts.length !== undefined && b.length !== opts.length) {
        ctx.addIssue({ code: 'custom', message: `expected ${opts.length} bytes, got ${b.length}` });
        return z.NEVER;
      }
      if (opts.max !== undefined && b.length > opts.max) {
        ctx.addIssue({ code: 'custom', message: `at most ${opts.max} bytes allowed, got ${b.length}` });
        return z.NEVER;
      }
      return b;
    });
}

/** Bytes → Uint32Array (little-endian); copies when the view is misaligned or the host is big-endian. */
export function u32FromBytes(b: Uint8Array): Uint32Array {
  if (b.length % 4 !== 0) throw new RangeError(`a Uint32 vector needs a multiple of 4 bytes, got ${b.length}`);
  return bytesAsWords(b);
}

/** Bytes → Float32Array (little-endian). */
export function f32FromBytes(b: Uint8Array): Float32Array {
  if (b.length % 4 !== 0) throw new RangeError(`a Float32 vector needs a multiple of 4 bytes, got ${b.length}`);
  if (isLittleEndian && b.byteOffset % 4 === 0) return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
  const out = new Float32Array(b.length / 4);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/** A typed vector as little-endian bytes (a view, no copy, on little-endian hosts). */
export function vectorBytes(v: Uint32Array | Float32Array): Uint8Array {
  if (v instanceof Uint32Array) return wordsAsBytes(v);
  if (isLittleEndian) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  const out = new Uint8Array(v.byteLength);
  const view = new DataView(out.buffer);
  for (let i = 0; i < v.length; i++) {
    view.setFloat32(i * 4, v[i]!, true);
  }
  return out;
}
