import { secp256k1 } from '@noble/curves/secp256k1'
import { sha256 } from '@noble/hashes/sha2'
import { type InvoiceSummary, readInvoice } from '../protocols/l402/readInvoice.js'

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
 * @example
 * ```ts
 * const invoice = verifyInvoiceSignature('lnbc2500u1pvjluezsp5…')
 * if (typeof invoice === 'string') console.log('refused:', invoice)
 * else console.log(invoice.amount, invoice.payee) // 250000000n '03e7156a…'
 * ```
 */
export function verifyInvoiceSignature(invoice: string): VerifiedInvoice | string {
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
    if (named === undefined)
      return { ...fields, payee: parsed.addRecoveryBit(recovery).recoverPublicKey(digest).toHex(true) }
    // With `n`, BOLT #11 verifies against it instead of recovering, and fails a high-S signature.
    if (parsed.hasHighS()) return 'signature not in low-S form'
    return secp256k1.verify(parsed, digest, named, { lowS: true })
      ? { ...fields, payee: named }
      : 'signature does not match its payee (n field)'
  } catch {
    // r or s out of range, or no point to recover from.
    return 'invalid signature'
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
