/**
 * Continuous Gaussian noise for DP-SGD from the platform CSPRNG (never a non-cryptographic generator):
 * Box–Muller on 53-bit uniforms from crypto.getRandomValues. (DDG's discrete noise uses the exact sampler of packages/ddp.)
 */
import { cryptoRandomWords, type RandomWords } from '@hushfl/ddp';

export class GaussianNoise {
  private spare: number | null = null;
  constructor(private readonly rw: RandomWords = cryptoRandomWords()) {}

  private uniform(): number {
    for (;;) {
      const v = ((this.rw.next() >>> 5) * 67108864 + (this.rw.next() >>> 6)) / 9007199254740992;
      if (v > 0) return v;
    }
  }

  /** One N(0, 1) sample. */
  next(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(this.uniform()));
    const theta = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** out[i] += std · N(0, 1). */
  addTo(out: Float32Array, std: number): void {
    for (let i = 0; i < out.length; i++) out[i]! += std * this.next();
  }
}
