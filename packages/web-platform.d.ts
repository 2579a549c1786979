/**
 * The globals that browsers, Web Workers and Node 20 all provide — and the only ones pure packages may use:
 * WebCrypto (getRandomValues and the subset of SubtleCrypto that SecAgg uses), TextEncoder/TextDecoder,
 * performance.now, timers, atob and URL. Each package’s own tsconfig.json type-checks it against these alone,
 * without the DOM or Node libraries, so a `document`, `fetch` or `Buffer` there is a compile error.
 */
type BufferSource = ArrayBuffer | ArrayBufferView;
type KeyUsage = 'decrypt' | 'deriveBits' | 'deriveKey' | 'encrypt' | 'sign' | 'unwrapKey' | 'verify' | 'wrapKey';
type KeyFormat = 'jwk' | 'pkcs8' | 'raw' | 'spki';
type AlgorithmIdentifier = string | { readonly name: string; readonly [param: string]: unknown };

interface JsonWebKey {
  readonly kty?: string;
  readonly crv?: string;
  readonly d?: string;
  readonly x?: string;
  readonly [field: string]: unknown;
}

interface CryptoKey {
  readonly type: 'private' | 'public' | 'secret';
  readonly extractable: boolean;
  readonly algorithm: { readonly name: string };
  readonly usages: KeyUsage[];
}

interface CryptoKeyPair {
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
}

interface SubtleCrypto {
  importKey(format: 'jwk', key: JsonWebKey, algorithm: AlgorithmIdentifier, extractable: boolean, usages: readonly KeyUsage[]): Promise<CryptoKey>;
  importKey(
    format: Exclude<KeyFormat, 'jwk'>,
    key: BufferSource,
    algorithm: AlgorithmIdentifier,
    extractable: boolean,
    usages: readonly KeyUsage[],
  ): Promise<CryptoKey>;
  exportKey(format: 'jwk', key: CryptoKey): Promise<JsonWebKey>;
  exportKey(format: Exclude<KeyFormat, 'jwk'>, key: CryptoKey): Promise<ArrayBuffer>;
  generateKey(algorithm: AlgorithmIdentifier, extractable: boolean, usages: readonly KeyUsage[]): Promise<CryptoKey | CryptoKeyPair>;
  deriveBits(algorithm: AlgorithmIdentifier, baseKey: CryptoKey, length: number): Promise<ArrayBuffer>;
  sign(algorithm: AlgorithmIdentifier, key: CryptoKey, data: BufferSource): Promise<ArrayBuffer>;
  verify(algorithm: AlgorithmIdentifier, key: CryptoKey, signature: BufferSource, data: BufferSource): Promise<boolean>;
  encrypt(algorithm: AlgorithmIdentifier, key: CryptoKey, data: BufferSource): Promise<ArrayBuffer>;
  decrypt(algorithm: AlgorithmIdentifier, key: CryptoKey, data: BufferSource): Promise<ArrayBuffer>;
  digest(algorithm: AlgorithmIdentifier, data: BufferSource): Promise<ArrayBuffer>;
}

interface Crypto {
  readonly subtle: SubtleCrypto;
  getRandomValues<T extends ArrayBufferView>(array: T): T;
}

declare var crypto: Crypto;

declare class TextEncoder {
  encode(input?: string): Uint8Array<ArrayBuffer>;
}

declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean });
  decode(input?: BufferSource): string;
}

declare var performance: { now(): number };

declare function setTimeout(handler: (...args: never[]) => void, ms?: number): unknown;
declare function clearTimeout(id: unknown): void;
declare function atob(data: string): string;

declare class URL {
  constructor(url: string, base?: string | URL);
  toString(): string;
  readonly href: string;
  readonly pathname: string;
}
