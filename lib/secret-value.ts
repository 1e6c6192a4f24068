import { createHash } from 'node:crypto'
import { inspect } from 'node:util'

/** `sha256:` + the first 12 hex digits: enough to compare, useless to an attacker. */
export function fingerprint(data: string | Uint8Array): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex').slice(0, 12)
}

/** The full hex sha256, for annotations and byte-for-byte comparisons. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

/**
 * Secret material (tokens, client secrets, token-file bytes). It cannot be printed by
 * accident: toString, JSON, util.inspect and template strings all show the fingerprint.
 * Call `reveal()` only at the boundary where the bytes must leave the process
 * (an HTTP body, a Secret's data, a file).
 */
export class SecretValue {
  readonly #bytes: Buffer
  constructor(value: string | Uint8Array) {
    this.#bytes = Buffer.from(value as string)
  }
  reveal(): Buffer {
    return Buffer.from(this.#bytes)
  }
  revealString(): string {
    return this.#bytes.toString('utf8')
  }
  get length(): number {
    return this.#bytes.length
  }
  get fingerprint(): string {
    return fingerprint(this.#bytes)
  }
  equals(other: SecretValue): boolean {
    return this.#bytes.equals(other.#bytes)
  }
  toString(): string {
    return `[secret ${this.fingerprint}]`
  }
  toJSON(): string {
    return this.toString()
  }
  [inspect.custom](): string {
    return this.toString()
  }
}
