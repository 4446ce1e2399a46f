import { PayfetchError } from '../errors/PayfetchError.js'
import type { Offer } from '../offer/Offer.js'
import type { Signer } from '../signers/Signer.js'
import { type EvmAccount, type EvmWalletClient, toTypedDataSigner } from './account.js'
import { signTransferWithAuthorization } from './eip3009.js'

export type EvmOptions = {
  /** A viem `LocalAccount`, a `WalletClient` with an account, or any `{ address, signTypedData }`. */
  account: EvmAccount | EvmWalletClient
  /** CAIP-2 networks this signer pays on, e.g. `['eip155:8453']`. Default: any EVM chain. A `WalletClient` bound to a chain pays on that chain only. */
  networks?: readonly string[] | undefined
}

const addressPattern = /^0x[0-9a-fA-F]{40}$/
const maxUint256 = 2n ** 256n - 1n
const defaultTimeoutSeconds = 60
// A server cannot ask for an authorization that stays valid longer than this.
const maxTimeoutSeconds = 3600

/**
 * Pays x402 `exact` offers on EVM chains by signing an EIP-3009 `transferWithAuthorization`
 * (USDC and other FiatToken-style tokens). Nothing is sent on chain by the payer: the server's
 * facilitator settles, so the payer needs no gas.
 *
 * @example
 * ```ts
 * import { createPayingFetch } from 'payfetch'
 * import { evm } from 'payfetch/evm'
 * import { privateKeyToAccount } from 'viem/accounts'
 *
 * const account = privateKeyToAccount(process.env.PAYER_KEY as `0x${string}`)
 * const fetchPaid = createPayingFetch({ signers: [evm({ account, networks: ['eip155:8453'] })] })
 * ```
 */
export function evm(options: EvmOptions): Signer {
  const signer = toTypedDataSigner(options?.account)
  if (!signer || !addressPattern.test(signer.address))
    throw new PayfetchError(
      'INVALID_OPTIONS',
      'evm() needs an account with an address and signTypedData (a viem LocalAccount or a WalletClient with an account).',
    )

  function chainIdOf(offer: Offer): number | undefined {
    const match = /^eip155:([1-9][0-9]{0,15})$/.exec(offer.network)
    const chainId = match ? Number(match[1]) : undefined
    if (chainId === undefined || !Number.isSafeInteger(chainId)) return undefined
    if (options.networks && !options.networks.includes(offer.network)) return undefined
    // A WalletClient bound to a chain signs for that chain only, whatever `networks` lists.
    return signer?.chainId === undefined || signer.chainId === chainId ? chainId : undefined
  }

  function domainOf(offer: Offer): { name: string; version: string } | undefined {
    const { name, version, assetTransferMethod } = offer.extra
    if (assetTransferMethod !== undefined && assetTransferMethod !== 'eip3009') return undefined
    return typeof name === 'string' && typeof version === 'string' ? { name, version } : undefined
  }

  return {
    name: 'evm',
    canPay(offer) {
      return (
        offer.protocol === 'x402' &&
        offer.scheme === 'exact' &&
        chainIdOf(offer) !== undefined &&
        addressPattern.test(offer.asset.id) &&
        addressPattern.test(offer.payTo) &&
        offer.amount > 0n &&
        offer.amount <= maxUint256 &&
        domainOf(offer) !== undefined
      )
    },
    async pay(offer) {
      const chainId = chainIdOf(offer)
      const domain = domainOf(offer)
      if (chainId === undefined || domain === undefined || !this.canPay(offer))
        throw new PayfetchError('PAYMENT_FAILED', `The evm signer cannot pay this offer on ${offer.network}.`)
      const now = BigInt(Math.floor(Date.now() / 1000))
      const timeout = BigInt(Math.min(offer.maxTimeoutSeconds ?? defaultTimeoutSeconds, maxTimeoutSeconds))
      const payload = await signTransferWithAuthorization(signer, {
        chainId,
        token: offer.asset.id,
        domain,
        to: offer.payTo,
        value: offer.amount,
        // x402 v1 clients start the window ten minutes back; v2 clients leave it open from 0.
        validAfter: offer.version === 1 ? now - 600n : 0n,
        validBefore: now + timeout,
      })
      return { payload, payer: signer.address }
    },
  }
}
