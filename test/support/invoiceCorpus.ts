import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'
import bolt11 from 'bolt11'
import { bolt11Networks, type InvoiceNetwork } from '../../examples/local-stack/lightningNode.js'

// The bech32 package bolt11 itself uses: invoices re-encoded with their checksum recomputed.
export const bech32 = createRequire(import.meta.url)('bech32') as {
  decode(text: string, limit?: number): { prefix: string; words: number[] }
  encode(prefix: string, words: number[], limit?: number): string
  toWords(bytes: ArrayLike<number>): number[]
  fromWords(words: ArrayLike<number>): number[]
}

/** Fixed node keys, so the corpus is the same on every run. */
export const nodeKeys = {
  payee: 'e126f68f7eafcc8b74f54d269fe206be715000f94dac067d1c04a8ca3b2db734',
  other: '11'.repeat(32),
} as const

export type InvoiceSpec = {
  readonly network?: InvoiceNetwork | undefined
  /** Millisatoshis; `null` for an amountless invoice. Default 250 000 000 (`2500u`). */
  readonly amountMsat?: bigint | null | undefined
  /** Write the `n` field. */
  readonly withPayee?: boolean | undefined
  /** The private key that signs, hex. Default `nodeKeys.payee`. */
  readonly key?: string | undefined
  readonly timestamp?: number | undefined
  readonly expirySeconds?: number | undefined
  readonly description?: string | undefined
  /** Commit to a long description with the `h` field instead of writing a `d` field. */
  readonly hashedDescription?: string | undefined
  /** How many routing hints (`r`) to add. */
  readonly routes?: number | undefined
  /** Add a P2PKH fallback address (`f`). */
  readonly fallback?: boolean | undefined
}

export type SignedInvoice = {
  readonly name: string
  readonly invoice: string
  /** The signer's compressed public key, as bolt11.sign derived it. */
  readonly signer: string
  readonly network: InvoiceNetwork
}

const hint = (index: number) => ({
  pubkey: `0${2 + (index % 2)}9e03a901b85534ff1e92c43c74431f7ce72046060fcf7a95c37e148f78c77255`,
  short_channel_id: `01020304050607${index.toString(16).padStart(2, '0')}`,
  fee_base_msat: 1 + index,
  fee_proportional_millionths: 20 + index,
  cltv_expiry_delta: 3 + index,
})

/** A BOLT11 invoice written and signed by the bolt11 package, deterministic for a given spec. */
export function signInvoice(name: string, spec: InvoiceSpec = {}): SignedInvoice {
  const network = spec.network ?? 'mainnet'
  const amountMsat = spec.amountMsat === undefined ? 250_000_000n : spec.amountMsat
  const digest = (text: string) => createHash('sha256').update(text).digest('hex')
  const tags: { tagName: string; data: unknown }[] = [
    { tagName: 'payment_hash', data: digest(`payment ${name}`) },
    { tagName: 'payment_secret', data: digest(`secret ${name}`) },
    spec.hashedDescription === undefined
      ? { tagName: 'description', data: spec.description ?? name }
      : { tagName: 'purpose_commit_hash', data: digest(spec.hashedDescription) },
    { tagName: 'expire_time', data: spec.expirySeconds ?? 3600 },
    { tagName: 'min_final_cltv_expiry', data: 80 },
    {
      tagName: 'feature_bits',
      data: { word_length: 4, var_onion_optin: { required: true }, payment_secret: { required: true } },
    },
  ]
  if (spec.routes) tags.push({ tagName: 'routing_info', data: Array.from({ length: spec.routes }, (_, i) => hint(i)) })
  if (spec.fallback)
    tags.push({
      tagName: 'fallback_address',
      data: { code: 17, addressHash: '3172b5654f6683c8fb146959d347ce303cae4ca7' },
    })
  const key = spec.key ?? nodeKeys.payee
  const input = {
    network: bolt11Networks[network],
    ...(amountMsat === null ? {} : { millisatoshis: amountMsat.toString() }),
    timestamp: spec.timestamp ?? 1_700_000_000,
    tags,
  } as Parameters<typeof bolt11.encode>[0]
  let signed = bolt11.sign(bolt11.encode(input), key)
  // The `n` field holds the signer's own key: known once a first signature has derived it.
  if (spec.withPayee)
    signed = bolt11.sign(
      bolt11.encode({
        ...input,
        tags: [...tags, { tagName: 'payee_node_key', data: signed.payeeNodeKey }],
      } as Parameters<typeof bolt11.encode>[0]),
      key,
    )
  return { name, invoice: signed.paymentRequest as string, signer: signed.payeeNodeKey as string, network }
}

const networks: readonly InvoiceNetwork[] = ['mainnet', 'testnet', 'signet', 'regtest']
// One amount per multiplier bolt11 picks (none, m, u, n, p), the smallest and the largest.
const amounts = [300_000_000_000n, 2_000_000_000n, 250_000_000n, 21_000n, 21_001n, 1n, 2_100_000_000_000_000_000n]

/**
 * Invoices on every network, with every multiplier, with and without the `n` field, amountless,
 * expired, with long and hashed descriptions, routing hints and a fallback address.
 */
export function invoiceCorpus(): SignedInvoice[] {
  const corpus: SignedInvoice[] = []
  for (const network of networks)
    for (const amountMsat of [...amounts, null])
      for (const withPayee of [false, true])
        corpus.push(
          signInvoice(`${network} ${amountMsat ?? 'amountless'}${withPayee ? ' n' : ''}`, {
            network,
            amountMsat,
            withPayee,
          }),
        )
  const long = 'ナンセンス 1杯, '.repeat(20)
  corpus.push(
    signInvoice('expired long ago', { timestamp: 1_496_314_658, expirySeconds: 60 }),
    signInvoice('expired, n', { timestamp: 1_496_314_658, expirySeconds: 60, withPayee: true }),
    signInvoice('long description (639 bytes)', { description: `${long}${'x'.repeat(639 - Buffer.byteLength(long))}` }),
    signInvoice('hashed description', { hashedDescription: 'One piece of chocolate cake, one icecream cone…' }),
    signInvoice('routing hints and fallback', { network: 'testnet', routes: 2, fallback: true }),
    signInvoice('routing hints, n', { network: 'signet', routes: 3, withPayee: true }),
    signInvoice('another key', { key: nodeKeys.other, network: 'regtest', withPayee: true }),
    signInvoice('another key, recovered', { key: nodeKeys.other, network: 'regtest' }),
  )
  return corpus
}

/** The invoice with its words changed by `mutate` and its checksum recomputed. */
export function reencoded(invoice: string, mutate: (words: number[]) => number[], prefix?: string): string {
  const decoded = bech32.decode(invoice, 10_000)
  return bech32.encode(prefix ?? decoded.prefix, mutate([...decoded.words]), 10_000)
}
