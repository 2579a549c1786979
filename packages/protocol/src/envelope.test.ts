import { describe, expect, it } from 'vitest';
import { EnvelopeError, pack, unpack } from './envelope.ts';
import { u32FromBytes } from './binary.ts';

describe('binary envelopes', () => {
  it('carry any number of binary fields in one buffer, 4-byte aligned', () => {
    const keys = Array.from({ length: 50 }, (_, i) => new Uint8Array(32).fill(i));
    const vector = Uint32Array.from([1, 2, 3, 0xffffffff]);
    const msg = { type: 'x', keys, nested: { v: new Uint8Array(vector.buffer), odd: Uint8Array.from([9, 9, 9]) }, n: 5 };
    const packed = pack(msg);
    expect(Object.keys(packed)).toEqual(['json', 'bin']);
    const back = unpack({ json: packed.json, bin: Buffer.from(packed.bin) }) as typeof msg;
    expect(back.n).toBe(5);
    expect(back.keys).toHaveLength(50);
    expect(Array.from(back.keys[49]!)).toEqual(Array.from(keys[49]!));
    expect(Array.from(u32FromBytes(back.nested.v))).toEqual([1, 2, 3, 0xffffffff]);
    expect(Array.from(back.nested.odd)).toEqual([9, 9, 9]);
    expect(back.nested.v.byteOffset % 4).toBe(0);
  });

  it('packs Node Buffers as binary, not as {type, data}', () => {
    const back = unpack(pack({ b: Buffer.from([1, 2, 3]) })) as { b: Uint8Array };
    expect(back.b).toBeInstanceOf(Uint8Array);
    expect(Array.from(back.b)).toEqual([1, 2, 3]);
  });

  it('refuses malformed envelopes and out-of-bounds references', () => {
    expect(() => unpack('nope')).toThrow(EnvelopeError);
    expect(() => unpack({ json: 1, bin: new Uint8Array(0) })).toThrow(/json must be a string/);
    expect(() => unpack({ json: '{}', bin: 'x' })).toThrow(/bin must be binary/);
    expect(() => unpack({ json: '{', bin: new Uint8Array(0) })).toThrow(/not valid JSON/);
    expect(() => unpack({ json: '{"a":{"$bin":[0,10]}}', bin: new Uint8Array(4) })).toThrow(/outside the 4-byte buffer/);
    expect(() => unpack({ json: '{"a":{"$bin":[-1,1]}}', bin: new Uint8Array(4) })).toThrow(/bad binary reference/);
  });
});
