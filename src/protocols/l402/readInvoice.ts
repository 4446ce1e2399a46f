import { invoicePrefixes, lightningNetworks } from './networks.js'

/**
 * What payfetch reads from a BOLT11 invoice before any wallet sees it. The signature is not
 * checked here (the root entry carries no elliptic-curve code); `payfetch/lightning` checks it.
 */
export type InvoiceSummary = {
  /** CAIP-2 id of the network its prefix names. */
  readonly network: string
  /** The amount in millisatoshis. */
  readonly amount: bigint
  /** Unix time in seconds when it was issued. */
  readonly timestamp: number
  /** Seconds it stays payable after `timestamp` (the `x` field, 3600 when absent). */
  readonly expiry: number
  /** The `p` field, 64 lowercase hex characters. */
  readonly paymentHash: string
  /** The `n` field (the payee's node key, 66 hex characters) when the invoice carries one. */
  readonly payee?: string | undefined
  /** What `payfetch/lightning` needs to check the signature, which this reader cannot. */
  readonly signed: SignedInvoice
}

/** The part of a BOLT11 invoice its signature covers, and the signature, as read from the text. */
export type SignedInvoice = {
  /** The human-readable part, lowercase (`lnbc2500n`); it is signed as its ASCII bytes. */
  readonly prefix: string
  /** The 5-bit words of the data part before the signature (timestamp and fields). */
  readonly words: readonly number[]
  /** The 104 words of the signature: 64 bytes `r ‖ s`, then the recovery id. */
  readonly signature: readonly number[]
}

const charset = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l'
const generator = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3]
// Millisatoshis per unit of each multiplier (1 BTC = 10^11 msat); `p` is a tenth of one.
const msatPer: Record<string, bigint> = { '': 100000000000n, m: 100000000n, u: 100000n, n: 100n }

/**
 * Reads a BOLT11 invoice: bech32 with its checksum verified, the network prefix, the amount in
 * msat, the timestamp and the `p`, `x` and `n` fields. Returns a short reason instead when the
 * invoice is malformed, amountless, sub-millisatoshi, on an unknown network, or carries no single
 * 256-bit payment hash.
 */
export function readInvoice(invoice: string): InvoiceSummary | string {
  const text = invoice.toLowerCase()
  const separator = text.lastIndexOf('1')
  const hrp = [...text.slice(0, separator)].map((char) => char.charCodeAt(0))
  // Data words include the 6 checksum words; the signature is the 104 before them.
  const words = [...text.slice(separator + 1)].map((char) => charset.indexOf(char))
  const end = words.length - 110
  let checksum = 1
  for (const value of [...hrp.map((code) => code >> 5), 0, ...hrp.map((code) => code & 31), ...words]) {
    const top = checksum >> 25
    checksum = ((checksum & 0x1ffffff) << 5) ^ value
    generator.forEach((word, bit) => {
      if ((top >> bit) & 1) checksum ^= word
    })
  }
  if (
    text.length > 8192 ||
    (invoice !== text && invoice !== invoice.toUpperCase()) ||
    end < 7 ||
    words.includes(-1) ||
    checksum !== 1
  )
    return 'malformed invoice'
  const [, prefix = '', digits = '', multiplier = ''] =
    /^ln([a-z]+?)(?:([0-9]+)([munp]?))?$/.exec(text.slice(0, separator)) ?? []
  const network = invoicePrefixes[prefix]
  if (!network) return 'unknown network'
  if (!digits) return 'amountless invoice'
  const value = BigInt(digits[0] === '0' || digits.length > 22 ? -1 : digits)
  const amount = multiplier === 'p' ? (value % 10n ? -1n : value / 10n) : value * (msatPer[multiplier] as bigint)
  if (amount <= 0n || amount > 2100000000000000000n) return 'invalid amount'

  const hashes: number[][] = []
  let payee: number[] | undefined
  let expiry = 3600
  for (let index = 7; index < end; ) {
    const [type, high = 0, low = 0] = words.slice(index, index + 3)
    const start = index + 3
    index = start + high * 32 + low
    const field = words.slice(start, index)
    if (index > end || (type === 6 && field.length > 10)) return 'malformed invoice'
    // BOLT11: a reader skips `p` and `n` fields of the wrong length.
    if (type === 1 && field.length === 52) hashes.push(field)
    if (type === 19 && field.length === 53) payee = field
    if (type === 6) expiry = number(field)
  }
  if (hashes.length !== 1) return 'no single payment hash'
  return {
    network: lightningNetworks[network],
    amount,
    timestamp: number(words.slice(0, 7)),
    expiry,
    paymentHash: hex(hashes[0] as number[], 32),
    payee: payee && hex(payee, 33),
    signed: { prefix: text.slice(0, separator), words: words.slice(0, end), signature: words.slice(end, -6) },
  }
}

const number = (words: number[]) => words.reduce((sum, word) => sum * 32 + word, 0)

/** The first `length` bytes of 5-bit words, as lowercase hex. */
function hex(words: number[], length: number): string {
  let bits = 0
  let accumulator = 0
  let out = ''
  for (const word of words) {
    accumulator = ((accumulator << 5) | word) & 0xfff
    bits += 5
    if (bits >= 8) {
      bits -= 8
      out += ((accumulator >> bits) & 255).toString(16).padStart(2, '0')
    }
  }
  return out.slice(0, length * 2)
}

// The last instant a JavaScript Date holds (year 275760), in Unix ms.
const lastDateMs = 8.64e15

/**
 * When an invoice expires, in Unix ms. BOLT #11 lets the expiry reach 2^50 seconds; one past the last
 * date JavaScript holds is that date, so nothing downstream formats an invalid one.
 */
export function invoiceExpiresAt({ timestamp, expiry }: { timestamp: number; expiry: number }): number {
  return Math.min((timestamp + expiry) * 1000, lastDateMs)
}
