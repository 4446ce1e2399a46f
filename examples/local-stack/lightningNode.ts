import { createECDH, createHash, randomBytes } from 'node:crypto'
import { decode, encode, sign } from 'bolt11'

/** The networks a test invoice can be issued on, with bolt11's network objects. */
export type InvoiceNetwork = 'mainnet' | 'testnet' | 'signet' | 'regtest'
const testnets = { pubKeyHash: 0x6f, scriptHash: 0xc4, validWitnessVersions: [0, 1] }
export const bolt11Networks: Record<
  InvoiceNetwork,
  { bech32: string; pubKeyHash: number; scriptHash: number; validWitnessVersions: number[] }
> = {
  mainnet: { bech32: 'bc', pubKeyHash: 0x00, scriptHash: 0x05, validWitnessVersions: [0, 1] },
  testnet: { bech32: 'tb', ...testnets },
  signet: { bech32: 'tbs', ...testnets },
  regtest: { bech32: 'bcrt', ...testnets },
}

export type InvoiceOptions = {
  /** Millisatoshis; `null` for an amountless invoice. Default 21 000 (21 sats). */
  readonly amountMsat?: bigint | null | undefined
  readonly network?: InvoiceNetwork | undefined
  /** The `x` field in seconds. Default 600. */
  readonly expirySeconds?: number | undefined
  /** Unix seconds. Default now. */
  readonly timestamp?: number | undefined
  readonly description?: string | undefined
  /** Also write the `n` field (the payee node key). */
  readonly withPayee?: boolean | undefined
}

export type IssuedInvoice = { readonly invoice: string; readonly paymentHash: string }

export type LightningNode = {
  /** The node's compressed public key (hex): every invoice is signed with its private key. */
  readonly publicKey: string
  /** Issues a real signed BOLT11 invoice and remembers its preimage. */
  createInvoice(options?: InvoiceOptions): IssuedInvoice
  /**
   * What the Lightning network does when a wallet pays: the invoice must be one of this node's,
   * unexpired and unpaid; it becomes settled and its preimage is revealed.
   */
  pay(invoice: string): { preimage: string; amountMsat: bigint; feeMsat: bigint }
  isSettled(paymentHash: string): boolean
  /** Settled payments, oldest first. */
  readonly settled: readonly { paymentHash: string; amountMsat: bigint }[]
}

export const sha256Hex = (bytes: Uint8Array | string) =>
  createHash('sha256')
    .update(typeof bytes === 'string' ? Buffer.from(bytes, 'hex') : bytes)
    .digest('hex')

/** The payment hash an invoice names, or `undefined` when it is not a BOLT11 invoice. */
export function invoicePaymentHash(invoice: string): string | undefined {
  try {
    const prefix = /^ln(bcrt|bc|tbs|tb)/.exec(invoice.toLowerCase())?.[1]
    const network = Object.values(bolt11Networks).find((candidate) => candidate.bech32 === prefix)
    return decode(invoice, network).tagsObject.payment_hash as string | undefined
  } catch {
    return undefined
  }
}

/**
 * The payee side of the Lightning network in one process: a node key that signs invoices and a
 * table `payment_hash → { preimage, settled }`. No Lightning node can run offline, so wallets
 * "pay" by asking this table; everything a client can check (the invoice signature, the amount,
 * `sha256(preimage) == payment_hash`) is real.
 */
export function createLightningNode(): LightningNode {
  const nodeKey = randomBytes(32)
  const ecdh = createECDH('secp256k1')
  ecdh.setPrivateKey(nodeKey)
  const publicKey = ecdh.getPublicKey('hex', 'compressed')
  const invoices = new Map<string, { preimage: string; amountMsat: bigint | null; settled: boolean }>()
  const settled: { paymentHash: string; amountMsat: bigint }[] = []

  return {
    publicKey,
    settled,
    createInvoice(options = {}) {
      const preimage = randomBytes(32).toString('hex')
      const paymentHash = sha256Hex(preimage)
      const amountMsat = options.amountMsat === undefined ? 21_000n : options.amountMsat
      const tags: { tagName: string; data: unknown }[] = [
        { tagName: 'payment_hash', data: paymentHash },
        { tagName: 'payment_secret', data: randomBytes(32).toString('hex') },
        { tagName: 'description', data: options.description ?? 'L402' },
        { tagName: 'expire_time', data: options.expirySeconds ?? 600 },
        {
          tagName: 'feature_bits',
          data: { word_length: 4, var_onion_optin: { required: true }, payment_secret: { required: true } },
        },
      ]
      if (options.withPayee) tags.push({ tagName: 'payee_node_key', data: publicKey })
      const unsigned = encode({
        network: bolt11Networks[options.network ?? 'regtest'],
        ...(amountMsat === null ? {} : { millisatoshis: amountMsat.toString() }),
        timestamp: options.timestamp ?? Math.floor(Date.now() / 1000),
        tags,
      } as Parameters<typeof encode>[0])
      const invoice = sign(unsigned, nodeKey.toString('hex')).paymentRequest as string
      invoices.set(paymentHash, { preimage, amountMsat, settled: false })
      return { invoice, paymentHash }
    },
    pay(invoice) {
      const prefix = /^ln(bcrt|bc|tbs|tb)/.exec(invoice.toLowerCase())?.[1]
      const network = Object.values(bolt11Networks).find((candidate) => candidate.bech32 === prefix)
      const decoded = decode(invoice, network)
      const paymentHash = decoded.tagsObject.payment_hash as string
      const entry = invoices.get(paymentHash)
      if (!entry || decoded.payeeNodeKey !== publicKey) throw new Error('no route: unknown invoice')
      if (entry.settled) throw new Error('invoice is already paid')
      const expires = ((decoded.timestamp ?? 0) + (decoded.tagsObject.expire_time ?? 3600)) * 1000
      if (expires <= Date.now()) throw new Error('invoice expired')
      if (entry.amountMsat === null) throw new Error('amountless invoices need an amount')
      entry.settled = true
      settled.push({ paymentHash, amountMsat: entry.amountMsat })
      return { preimage: entry.preimage, amountMsat: entry.amountMsat, feeMsat: 0n }
    },
    isSettled: (paymentHash) => invoices.get(paymentHash)?.settled === true,
  }
}
