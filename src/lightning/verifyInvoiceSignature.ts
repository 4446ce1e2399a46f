import { invert, mod } from '@noble/curves/abstract/modular'
import { bytesToNumberBE } from '@noble/curves/abstract/utils'
import { secp256k1 } from '@noble/curves/secp256k1'
import { sha256 } from '@noble/hashes/sha2'
import { type InvoiceSummary, readInvoice } from '../protocols/l402/readInvoice.js'
import { type PayeeKeys, payeeKeys } from './PayeeKeys.js'

/** A BOLT11 invoice whose signature checked out, with the node key that signed it. */
export type VerifiedInvoice = Omit<InvoiceSummary, 'payee' | 'signed'> & {
  /** The payee's node key, 66 hex characters: the `n` field when present, else the recovered key. */
  readonly payee: string
}

/**
 * Reads a BOLT11 invoice with `readInvoice` and checks its secp256k1 signature over
 * `sha256(prefix ‖ data words packed into bytes)`, as BOLT #11 asks: against the `n` field when
 * the invoice has one (and then only a low-S signature), else by recovering the payee's key.
 * Returns a short reason instead when `readInvoice` refuses the invoice or the signature does not
 * check out. Never throws.
 *
 * A key that signed a checked invoice is kept in `keys` (bounded) and tried first on the next
 * invoice, with tables that make the multiplication cheap; the cache only ever accepts where the
 * full check would give the same answer, and anything else goes the full way.
 *
 * @example
 * ```ts
 * const invoice = verifyInvoiceSignature('lnbc2500u1pvjluezsp5…')
 * if (typeof invoice === 'string') console.log('refused:', invoice)
 * else console.log(invoice.amount, invoice.payee) // 250000000n '03e7156a…'
 * ```
 */
export function verifyInvoiceSignature(invoice: string, keys: PayeeKeys = payeeKeys): VerifiedInvoice | string {
  const summary = readInvoice(invoice)
  if (typeof summary === 'string') return summary
  const { signed, payee: named, ...fields } = summary
  // 104 words are exactly 65 bytes: r ‖ s ‖ recovery id.
  const signature = bytesOf(signed.signature)
  const recovery = signature[64] as number
  const prefix = Uint8Array.from(signed.prefix, (char) => char.charCodeAt(0))
  const data = bytesOf(signed.words)
  const message = new Uint8Array(prefix.length + data.length)
  message.set(prefix)
  message.set(data, prefix.length)
  const digest = sha256(message)
  try {
    const parsed = secp256k1.Signature.fromCompact(signature.subarray(0, 64))
    if (recovery > 3) return 'invalid signature'
    // With `n`, BOLT #11 verifies against it instead of recovering, and fails a high-S signature.
    if (named !== undefined && parsed.hasHighS()) return 'signature not in low-S form'
    const known = knownSigner(keys, parsed, recovery, digest, named)
    if (known !== undefined) return { ...fields, payee: known }
    if (named === undefined) {
      const recovered = parsed.addRecoveryBit(recovery).recoverPublicKey(digest)
      const payee = recovered.toHex(true)
      keys.remember(payee, recovered)
      return { ...fields, payee }
    }
    if (!secp256k1.verify(parsed, digest, named, { lowS: true })) return 'signature does not match its payee (n field)'
    keys.remember(named)
    return { ...fields, payee: named }
  } catch {
    // r or s out of range, or no point to recover from.
    return 'invalid signature'
  }
}

/** At most this many remembered keys are tried on an invoice without `n` before recovering its key. */
const tries = 3

/**
 * A remembered key that provably signed the digest, or `undefined` (never a refusal): the full
 * check decides then. R = z·s⁻¹·G + r·s⁻¹·Q, by the tables of G and Q. With `n`, Q is the named
 * key and R.x ≡ r is what `verify` checks. Without, a key Q is the one `recoverPublicKey` would
 * give only when R is the point it starts from: x = r (no overflow bit) and y of the recovery id's
 * parity; then Q = r⁻¹(s·R − z·G) is that key.
 */
function knownSigner(
  keys: PayeeKeys,
  signature: { readonly r: bigint; readonly s: bigint },
  recovery: number,
  digest: Uint8Array,
  named: string | undefined,
): string | undefined {
  // Only keys with their table: a bare point costs what the full check costs.
  const tabled = keys.recent.filter((key) => key.point !== undefined)
  const candidates =
    named === undefined ? (recovery < 2 ? tabled.slice(0, tries) : []) : tabled.filter((key) => key.hex === named)
  if (candidates.length === 0) return undefined
  // Whatever goes wrong here is a miss, never a refusal.
  try {
    const { ProjectivePoint: Point, CURVE } = secp256k1
    const { n } = CURVE
    const { r, s } = signature
    const inverse = invert(s, n)
    const u1 = mod(bytesToNumberBE(digest) * inverse, n)
    // `multiply` takes no zero; and it, not `multiplyUnsafe`, reads a point's table right in every noble 1.9.
    if (u1 === 0n) return undefined
    const zG = Point.BASE.multiply(u1)
    const u2 = mod(r * inverse, n)
    for (const key of candidates) {
      const R = zG.add((key.point as NonNullable<typeof key.point>).multiply(u2))
      if (R.equals(Point.ZERO)) continue
      const { x, y } = R.toAffine()
      if (named === undefined ? x === r && Number(y & 1n) === recovery : mod(x, n) === r) {
        keys.remember(key.hex)
        return key.hex
      }
    }
    return undefined
  } catch {
    return undefined
  }
}

/** 5-bit words packed into bytes, the last one padded with zero bits (BOLT #11). */
function bytesOf(words: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(Math.ceil((words.length * 5) / 8))
  let index = 0
  let bits = 0
  let accumulator = 0
  for (const word of words) {
    accumulator = ((accumulator << 5) | word) & 0xfff
    bits += 5
    if (bits >= 8) {
      bits -= 8
      bytes[index++] = (accumulator >> bits) & 255
    }
  }
  if (bits > 0) bytes[index] = (accumulator << (8 - bits)) & 255
  return bytes
}
