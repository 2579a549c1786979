/**
 * One binary attachment per message. Socket.IO's parser refuses packets with more than 10 binary
 * attachments, and a SecAgg message carries one per neighbour; so every message with binary fields travels
 * as { json, bin }: the JSON text with each binary field replaced by {"$bin": [offset, length]} into one
 * byte buffer. `unpack` checks sizes and bounds before the message schema checks the rest.
 */
import { asBytes } from './binary.ts';

export interface Packed {
  readonly json: string;
  readonly bin: Uint8Array;
}

/** Largest JSON part accepted (the binary part is bounded by the transport's maxHttpBufferSize). */
export const MAX_ENVELOPE_JSON = 4 << 20;

export function pack(value: unknown): Packed {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const json = JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    // `this[key]` is the value before toJSON (a Node Buffer would otherwise arrive as {type, data}).
    const raw = this[key];
    const b = raw instanceof ArrayBuffer || ArrayBuffer.isView(raw) ? asBytes(raw) : undefined;
    if (!b) return v;
    const offset = (size + 3) & ~3; // 4-byte aligned, so Uint32/Float32 views need no copy
    if (offset > size) chunks.push(new Uint8Array(offset - size));
    chunks.push(b);
    size = offset + b.length;
    return { $bin: [offset, b.length] };
  });
  const bin = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    bin.set(c, off);
    off += c.length;
  }
  return { json, bin };
}

export class EnvelopeError extends Error {
  override readonly name = 'EnvelopeError';
}

/** The message inside an envelope, binary fields as Uint8Array views of the received buffer. */
export function unpack(packed: unknown): unknown {
  if (typeof packed !== 'object' || packed === null) throw new EnvelopeError('message is not an envelope {json, bin}');
  const { json, bin } = packed as { json?: unknown; bin?: unknown };
  if (typeof json !== 'string') throw new EnvelopeError('envelope.json must be a string');
  if (json.length > MAX_ENVELOPE_JSON) throw new EnvelopeError(`envelope.json exceeds ${MAX_ENVELOPE_JSON} characters`);
  const bytes = asBytes(bin);
  if (!bytes) throw new EnvelopeError('envelope.bin must be binary');
  let doc: unknown;
  try {
    doc = JSON.parse(json, (_key, v: unknown) => {
      if (v && typeof v === 'object' && !Array.isArray(v) && '$bin' in v) {
        const ref = (v as { $bin: unknown }).$bin;
        if (!Array.isArray(ref) || ref.length !== 2 || !ref.every((x) => Number.isInteger(x) && x >= 0)) throw new EnvelopeError('bad binary reference');
        const [offset, length] = ref as [number, number];
        if (offset + length > bytes.length) throw new EnvelopeError(`binary reference [${offset}, ${length}] is outside the ${bytes.length}-byte buffer`);
        return new Uint8Array(bytes.buffer, bytes.byteOffset + offset, length);
      }
      return v;
    });
  } catch (e) {
    if (e instanceof EnvelopeError) throw e;
    throw new EnvelopeError(`envelope.json is not valid JSON: ${(e as Error).message}`);
  }
  return doc;
}
