import { isPayfetchError, PayfetchError } from '../errors/PayfetchError.js'
import type { Bolt11Proof, Bolt11Request } from '../methods/Bolt11.js'
import { l402 } from '../protocols/l402/index.js'
import { type LightningNetwork, lightningNetworks } from '../protocols/l402/networks.js'
import { readInvoice } from '../protocols/l402/readInvoice.js'
import { payment } from '../protocols/payment/index.js'
import { x402WithInvoices } from '../protocols/x402/index.js'
import type { Signer } from '../signers/Signer.js'
import { abortable } from './abortable.js'
import { checkInvoice } from './checkInvoice.js'
import type { LightningWallet, PaidInvoice } from './LightningWallet.js'
import { normalizePreimage, preimageMatches } from './preimage.js'
import { outcomeUnknown } from './walletErrors.js'

export type LightningOptions = {
  /** Who pays the invoices: `nwc(uri)`, `lnd(…)`, `coreLightning(…)`, `lnbits(…)`, `webln()`, or any {@link LightningWallet}. */
  wallet: LightningWallet
  /** The most one payment may spend on routing fees, in satoshis. Default 10 (Aperture's and lnget's default). */
  maxFeeSats?: number | bigint | undefined
  /** How long one payment may take before its outcome is reported unknown, in ms. Default 60 000. */
  timeoutMs?: number | undefined
  /** The networks this wallet pays on, by name or CAIP-2 id. Default `['mainnet']`. */
  networks?: readonly (LightningNetwork | string)[] | undefined
}

const defaultMaxFeeSats = 10n
const defaultTimeoutMs = 60_000

/**
 * Pays L402 offers by paying their BOLT11 invoice with a Lightning wallet. Before any money moves
 * it checks the invoice's signature (noble secp256k1) and its network, amount, payment hash, payee
 * and expiry against the offer; after, it checks `sha256(preimage) == payment_hash`. A wallet that reports a
 * payment with a wrong or missing preimage, or does not answer within `timeoutMs`, ends the call
 * with `PAYMENT_OUTCOME_UNKNOWN` and the payment hash: the invoice may have been paid, so it is
 * never paid again on its own.
 *
 * @example
 * ```ts
 * import { createPayingFetch } from 'payfetch'
 * import { lightning, nwc } from 'payfetch/lightning'
 * import { WebSocket } from 'ws'
 *
 * const fetchPaid = createPayingFetch({
 *   signers: [lightning({ wallet: nwc(process.env.NWC_URI!, { WebSocket }), maxFeeSats: 10 })],
 * })
 * const response = await fetchPaid('https://api.example.com/l402/report')
 * ```
 *
 * @throws {PayfetchError} `INVALID_OPTIONS` for a missing wallet, a bad fee limit, timeout or network.
 */
export function lightning(options: LightningOptions): Signer {
  const { wallet } = options ?? {}
  if (typeof wallet?.payInvoice !== 'function')
    throw new PayfetchError('INVALID_OPTIONS', 'lightning() needs a wallet with payInvoice(invoice, options).')
  const maxFeeMsat = toMsat(options.maxFeeSats ?? defaultMaxFeeSats)
  const timeoutMs = options.timeoutMs ?? defaultTimeoutMs
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1)
    throw new PayfetchError('INVALID_OPTIONS', 'lightning() timeoutMs must be a positive integer.', {
      details: { timeoutMs },
    })
  const networks = new Set((options.networks ?? ['mainnet']).map(toNetwork))
  const walletName = wallet.name ?? 'custom'
  const lookupPayment = wallet.lookupPayment?.bind(wallet)
  // The backend gets most of the time, so it can report a failure before the signer gives up.
  const timeoutSeconds = Math.max(1, Math.floor((timeoutMs * 0.9) / 1000))

  const refusal = (request: Bolt11Request) =>
    networks.has(request.network) ? checkInvoice(request) : `network ${request.network} is not one this wallet pays on`

  return {
    name: 'lightning',
    protocols: [l402, payment, x402WithInvoices(readInvoice)],
    methods: {
      bolt11: {
        refusal,
        // Routing fees come on top of the invoice: caps and budgets count the worst case.
        maxFee: () => maxFeeMsat,
        async pay(request, { signal }): Promise<Bolt11Proof> {
          const reason = refusal(request)
          if (reason)
            throw new PayfetchError('PAYMENT_FAILED', `The lightning signer cannot pay this offer: ${reason}.`, {
              details: { network: request.network, paymentHash: request.paymentHash },
            })
          signal?.throwIfAborted()
          const { paymentHash } = request
          const paid = await bounded(signal, (bound) =>
            wallet.payInvoice(request.invoice, {
              maxFeeMsat,
              signal: bound,
              timeoutSeconds,
              paymentHash,
              amountMsat: request.amountMsat,
            }),
          ).catch((error: unknown) => {
            throw isPayfetchError(error)
              ? error
              : outcomeUnknown(
                  walletName,
                  signal?.aborted || (error instanceof DOMException && error.name === 'TimeoutError')
                    ? 'no answer came before the timeout'
                    : 'it failed without saying whether it paid',
                  paymentHash,
                  {},
                  error,
                )
          })
          const proof = await proofOf(paid, paymentHash)
          if (!proof)
            throw outcomeUnknown(
              walletName,
              `it reported a payment with ${normalizePreimage(paid?.preimage) ? 'a preimage that does not match the invoice' : 'no valid preimage'}`,
              paymentHash,
            )
          return proof
        },
        // Only for a wallet that can look a payment up: a resumed payment is never paid again.
        ...(lookupPayment && {
          async lookup(request, { signal }) {
            const found = await bounded(signal, (bound) =>
              lookupPayment(request.paymentHash, { signal: bound, timeoutSeconds }),
            )
            if (found?.status === 'failed') return 'failed'
            return (found?.status === 'paid' && (await proofOf(found, request.paymentHash))) || 'unknown'
          },
        }),
      },
    },
  }

  /**
   * Runs a wallet call bounded by `timeoutMs` and the caller's signal; the race holds the bound even
   * for a wallet that ignores its signal. Rejects with the abort reason (a `TimeoutError`) then.
   */
  async function bounded<T>(signal: AbortSignal | undefined, call: (bound: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController()
    const abort = () => controller.abort(signal?.reason)
    signal?.addEventListener('abort', abort, { once: true })
    const timer = setTimeout(
      () => controller.abort(new DOMException(`The wallet did not answer within ${timeoutMs} ms.`, 'TimeoutError')),
      timeoutMs,
    )
    try {
      return await abortable(
        Promise.resolve().then(() => call(controller.signal)),
        controller.signal,
      )
    } finally {
      clearTimeout(timer)
      signal?.removeEventListener('abort', abort)
    }
  }
}

/** The proof of a paid invoice, when its preimage hashes to the payment hash. */
async function proofOf(paid: PaidInvoice | undefined, paymentHash: string): Promise<Bolt11Proof | undefined> {
  const preimage = normalizePreimage(paid?.preimage)
  if (!preimage || !(await preimageMatches(preimage, paymentHash))) return undefined
  return { kind: 'bolt11', preimage, feeMsat: typeof paid?.feeMsat === 'bigint' ? paid.feeMsat : undefined }
}

function toMsat(sats: number | bigint): bigint {
  const value = typeof sats === 'bigint' ? sats : Number.isSafeInteger(sats) ? BigInt(sats) : -1n
  if (value < 0n || value > 1_000_000_000_000n)
    throw new PayfetchError(
      'INVALID_OPTIONS',
      'lightning() maxFeeSats must be a non-negative whole number of satoshis.',
      { details: { maxFeeSats: String(sats) } },
    )
  return value * 1000n
}

function toNetwork(network: string): string {
  const id = Object.hasOwn(lightningNetworks, network) ? lightningNetworks[network as LightningNetwork] : network
  if (!Object.values(lightningNetworks).includes(id as never))
    throw new PayfetchError('INVALID_OPTIONS', `lightning() does not know the network ${JSON.stringify(network)}.`, {
      details: { known: Object.keys(lightningNetworks) },
    })
  return id
}
