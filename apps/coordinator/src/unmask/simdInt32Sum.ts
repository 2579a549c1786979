/**
 * Wrapping int32 lane sums, acc ± src, four lanes an instruction: a WebAssembly module of two functions
 * (i32x4.add, i32x4.sub over 16-byte blocks), assembled below byte by byte since it is 150 bytes and a build step
 * for it would be more code than it is. The unmasking slices spend most of their time adding keystream words;
 * V8's scalar loop over Int32Arrays does one lane per iteration.
 *
 * Both functions take (accByteOffset, srcByteOffset, byteLength), byteLength a multiple of 16, and update
 * acc[i] = acc[i] ± src[i] in the module's own memory (exported), which the caller grows and fills.
 */

/** Body of `f(acc, src, bytes)`: while bytes ≠ 0 { store(acc, load(acc) op load(src)); acc += 16; src += 16; bytes −= 16 }. */
function loopBody(i32x4op: number): number[] {
  const localGet = (i: number) => [0x20, i];
  const localSet = (i: number) => [0x21, i];
  const v128Load = [0xfd, 0x00, 0x04, 0x00]; // align 2^4, offset 0
  const v128Store = [0xfd, 0x0b, 0x04, 0x00];
  const step = (i: number, op: number) => [...localGet(i), 0x41, 0x10, op, ...localSet(i)]; // i32.const 16; i32.add/sub
  const code = [
    0x02,
    0x40, // block
    0x03,
    0x40, // loop
    ...localGet(2),
    0x45,
    0x0d,
    0x01, // bytes == 0: br_if out of the block
    ...localGet(0),
    ...localGet(0),
    ...v128Load,
    ...localGet(1),
    ...v128Load,
    0xfd,
    i32x4op,
    0x01,
    ...v128Store,
    ...step(0, 0x6a),
    ...step(1, 0x6a),
    ...step(2, 0x6b),
    0x0c,
    0x00, // br to the loop
    0x0b,
    0x0b,
    0x0b, // end loop, end block, end function
  ];
  return [0x00, ...code]; // no locals beyond the parameters
}

function assemble(): Uint8Array<ArrayBuffer> {
  const section = (id: number, bytes: number[]) => [id, bytes.length, ...bytes];
  const name = (s: string) => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];
  const add = loopBody(0xae); // i32x4.add
  const sub = loopBody(0xb1); // i32x4.sub
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, [0x01, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x00]), // one type: (i32, i32, i32) → ()
    ...section(3, [0x02, 0x00, 0x00]), // two functions of it
    ...section(5, [0x01, 0x00, 0x01]), // a memory of one page to start
    ...section(7, [0x03, ...name('add'), 0x00, 0x00, ...name('sub'), 0x00, 0x01, ...name('memory'), 0x02, 0x00]),
    ...section(10, [0x02, add.length, ...add, sub.length, ...sub]),
  ]);
}

export interface SimdInt32Sum {
  readonly memory: WebAssembly.Memory;
  add(acc: number, src: number, bytes: number): void;
  sub(acc: number, src: number, bytes: number): void;
}

/** A fresh instance (its own memory), or null where this WebAssembly has no SIMD. */
export function createSimdInt32Sum(): SimdInt32Sum | null {
  try {
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(assemble()));
    return exports as unknown as SimdInt32Sum;
  } catch {
    return null;
  }
}
