import { decode } from 'bolt11'
import { bolt11Networks, type InvoiceNetwork } from '../../examples/local-stack/lightningNode.js'
import type { VerifiedInvoice } from '../../src/lightning/verifyInvoiceSignature.js'
import { lightningNetworks } from '../../src/protocols/l402/networks.js'
import { bech32, reencoded } from '../support/invoiceCorpus.js'

type Decoded = ReturnType<typeof decode>

/** How the bolt11 package reads an invoice (signature included), or the error it throws. */
export function reference(invoice: string): Decoded | Error {
  const prefix = /^ln(bcrt|bc|tbs|tb)/i.exec(invoice)?.[1]?.toLowerCase()
  const network = Object.values(bolt11Networks).find((candidate) => candidate.bech32 === prefix)
  try {
    return decode(invoice, network)
  } catch (error) {
    return error as Error
  }
}

/** What verifyInvoiceSignature must answer for an invoice bolt11 reads, derived from bolt11's reading. */
export function expected(decoded: Decoded): VerifiedInvoice | string {
  if (decoded.millisatoshis === null || decoded.millisatoshis === undefined) return 'amountless invoice'
  const [name] = Object.entries(bolt11Networks).find(([, network]) => network.bech32 === decoded.network?.bech32) ?? []
  return {
    network: lightningNetworks[name as InvoiceNetwork],
    amount: BigInt(decoded.millisatoshis),
    timestamp: decoded.timestamp as number,
    expiry: decoded.tagsObject.expire_time ?? 3600,
    paymentHash: decoded.tagsObject.payment_hash as string,
    payee: decoded.payeeNodeKey as string,
  }
}

/** The order of the secp256k1 group. */
export const groupOrder = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n

const toBigInt = (bytes: number[]) => bytes.reduce((sum, byte) => (sum << 8n) | BigInt(byte), 0n)
const toBytes = (value: bigint) =>
  Array.from({ length: 32 }, (_, index) => Number((value >> BigInt(8 * (31 - index))) & 255n))

/** The signature of an invoice: r, s and the recovery id. */
export function signatureOf(invoice: string): { r: bigint; s: bigint; recovery: number } {
  const bytes = bech32.fromWords(bech32.decode(invoice, 10_000).words.slice(-104))
  return { r: toBigInt(bytes.slice(0, 32)), s: toBigInt(bytes.slice(32, 64)), recovery: bytes[64] as number }
}

/** The invoice with another signature put in (checksum recomputed). */
export function withSignature(invoice: string, r: bigint, s: bigint, recovery: number): string {
  return reencoded(invoice, (words) => [
    ...words.slice(0, -104),
    ...bech32.toWords([...toBytes(r), ...toBytes(s), recovery]),
  ])
}
