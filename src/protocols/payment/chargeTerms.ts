import type { PaymentMethod } from '../../methods/PaymentMethod.js'
import { isShortString } from '../../utils/guards.js'
import { lightningNetworks } from '../l402/networks.js'
import { invoiceExpiresAt, readInvoice } from '../l402/readInvoice.js'
import { solanaDevnet, solanaMainnet } from '../x402/networks.js'
import type { PaymentChallenge } from './decodePayment.js'

/** The fields every `charge` request shares. */
export type ChargeRequest = {
  /** In base units. */
  readonly amount: bigint
  readonly currency: string
  readonly recipient?: string | undefined
  readonly externalId?: string | undefined
  readonly details: Readonly<Record<string, unknown>>
}

/** What an offer needs from one method's charge: where, in what, to whom, and the method request. */
export type ChargeTerms = {
  readonly network: string
  readonly asset: string
  readonly amount: bigint
  readonly payTo: string
  readonly expiresAt?: number | undefined
  /** `undefined` when payfetch cannot pay this form of the charge (it is still an offer to show). */
  readonly method?: PaymentMethod | undefined
}

const evmAddress = /^0x[0-9a-fA-F]{40}$/
const bytes32 = /^0x[0-9a-fA-F]{64}$/
// Tempo's charge draft: the chain a request without methodDetails.chainId is on.
const defaultTempoChainId = 42431

/**
 * The terms of a `charge` for the methods payfetch speaks (the mpp-specs method drafts); a
 * sentence when the request contradicts itself; `undefined` for another method.
 */
export function chargeTerms(
  method: string,
  challenge: PaymentChallenge,
  request: ChargeRequest,
  expiresAt: number | undefined,
  now: number = Date.now(),
): ChargeTerms | string | undefined {
  const { amount, currency, recipient, details } = request
  // The signature must not outlive the challenge; an authorization valid for minutes when it has none.
  const validBefore = expiresAt === undefined ? undefined : Math.floor(expiresAt / 1000)
  switch (method) {
    case 'evm': {
      const chainId = details.chainId
      if (!isChainId(chainId)) return 'methodDetails.chainId is missing'
      if (!evmAddress.test(currency) || !recipient || !evmAddress.test(recipient))
        return 'currency or recipient is not an address'
      const types = details.credentialTypes
      // payfetch signs EIP-3009 authorizations; they cannot carry splits.
      const payable = Array.isArray(types) && types.includes('authorization') && details.splits === undefined
      return {
        network: `eip155:${chainId}`,
        asset: currency,
        amount,
        payTo: recipient,
        method: payable
          ? {
              kind: 'eip3009',
              chainId,
              token: currency,
              to: recipient,
              value: amount,
              validBefore: validBefore === undefined ? { afterSeconds: 300 } : { at: validBefore },
              // The evm charge binds the authorization to this challenge.
              nonce: { keccak256Of: challenge.id + challenge.realm },
            }
          : undefined,
      }
    }
    case 'tempo': {
      const chainId = details.chainId ?? defaultTempoChainId
      if (!isChainId(chainId)) return 'methodDetails.chainId is not a chain id'
      if (!evmAddress.test(currency) || !recipient || !evmAddress.test(recipient))
        return 'currency or recipient is not an address'
      const { memo, feePayer, supportedModes } = details
      if (memo !== undefined && !(typeof memo === 'string' && bytes32.test(memo)))
        return 'methodDetails.memo is not bytes32'
      const splits = readSplits(details.splits, amount)
      if (typeof splits === 'string') return splits
      // payfetch signs for the server to broadcast ("pull"); it does not broadcast itself.
      const pull = supportedModes === undefined || (Array.isArray(supportedModes) && supportedModes.includes('pull'))
      return {
        network: `eip155:${chainId}`,
        asset: currency,
        amount,
        payTo: recipient,
        method: pull
          ? {
              kind: 'tempo-transfer',
              chainId,
              token: currency,
              to: recipient,
              amount,
              splits,
              memo: memo ?? { challengeId: challenge.id, realm: challenge.realm },
              feePayer: feePayer === true,
              validBefore,
            }
          : undefined,
      }
    }
    case 'lightning': {
      if (currency !== 'sat') return 'currency is not sat'
      const { invoice, paymentHash, network } = details
      if (!isShortString(invoice, 8192)) return 'methodDetails.invoice is missing'
      const summary = readInvoice(invoice)
      if (typeof summary === 'string') return summary
      // The invoice is authoritative; the request's convenience fields must agree with it.
      if (summary.amount !== amount * 1000n) return 'the invoice amount differs from the request'
      if (paymentHash !== undefined && paymentHash !== summary.paymentHash)
        return 'the payment hash differs from the invoice'
      const named = network === undefined ? lightningNetworks.mainnet : lightningNetworks[network as 'mainnet']
      if (named !== summary.network) return 'the network differs from the invoice'
      const invoiceExpires = invoiceExpiresAt(summary)
      if (invoiceExpires <= now) return 'the invoice has expired'
      return {
        network: summary.network,
        asset: 'BTC',
        amount: summary.amount,
        payTo: summary.payee ?? summary.paymentHash,
        expiresAt: Math.min(invoiceExpires, expiresAt ?? invoiceExpires),
        method: {
          kind: 'bolt11',
          invoice: invoice.toLowerCase(),
          paymentHash: summary.paymentHash,
          amountMsat: summary.amount,
          network: summary.network,
          payee: summary.payee,
        },
      }
    }
    case 'solana': {
      if (!recipient) return 'recipient is missing'
      const cluster = details.network ?? 'mainnet'
      const network = cluster === 'mainnet' ? solanaMainnet : cluster === 'devnet' ? solanaDevnet : undefined
      if (network === undefined) return `the cluster ${String(cluster)} is not one payfetch knows`
      const { feePayer, feePayerKey, splits, confidential, recentBlockhash } = details
      // payfetch signs an SPL transfer the server co-signs as fee payer; native SOL, splits and
      // confidential transfers are offers it shows but does not pay.
      const payable =
        currency !== 'sol' &&
        feePayer === true &&
        isShortString(feePayerKey, 64) &&
        splits === undefined &&
        confidential !== true
      return {
        network,
        asset: currency,
        amount,
        payTo: recipient,
        method: payable
          ? {
              kind: 'spl-transfer',
              network,
              mint: currency,
              payTo: recipient,
              amount,
              feePayer: feePayerKey,
              memo: request.externalId,
              recentBlockhash: typeof recentBlockhash === 'string' ? recentBlockhash : undefined,
            }
          : undefined,
      }
    }
    default:
      return undefined
  }
}

function isChainId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0
}

/** Tempo splits: recipients and amounts that leave the primary recipient something. */
function readSplits(
  value: unknown,
  total: bigint,
): { to: string; amount: bigint; memo?: string }[] | undefined | string {
  if (value === undefined) return undefined
  if (!Array.isArray(value) || value.length === 0 || value.length > 10) return 'methodDetails.splits is malformed'
  const splits: { to: string; amount: bigint; memo?: string }[] = []
  let sum = 0n
  for (const entry of value as Record<string, unknown>[]) {
    const { recipient, amount, memo } = entry ?? {}
    if (typeof recipient !== 'string' || !evmAddress.test(recipient)) return 'a split recipient is not an address'
    if (typeof amount !== 'string' || !/^[0-9]{1,78}$/.test(amount) || BigInt(amount) === 0n)
      return 'a split amount is not a positive integer string'
    if (memo !== undefined && !(typeof memo === 'string' && bytes32.test(memo))) return 'a split memo is not bytes32'
    sum += BigInt(amount)
    splits.push({ to: recipient, amount: BigInt(amount), ...(memo === undefined ? {} : { memo }) })
  }
  return sum < total ? splits : 'the splits leave the recipient nothing'
}
