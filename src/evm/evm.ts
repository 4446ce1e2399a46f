import { PayfetchError } from '../errors/PayfetchError.js'
import type { Eip3009Request } from '../methods/Eip3009.js'
import { payment } from '../protocols/payment/index.js'
import type { Signer } from '../signers/Signer.js'
import { type EvmAccount, type EvmWalletClient, toTypedDataSigner } from './account.js'
import { signTransferWithAuthorization } from './eip3009.js'
import { type EvmToken, findTokenDomain, knownTokens } from './tokenDomains.js'

export type EvmOptions = {
  /** A viem `LocalAccount`, a `WalletClient` with an account, or any `{ address, signTypedData }`. */
  account: EvmAccount | EvmWalletClient
  /** CAIP-2 networks this signer pays on, e.g. `['eip155:8453']`. Default: any EVM chain. A `WalletClient` bound to a chain pays on that chain only. */
  networks?: readonly string[] | undefined
  /**
   * EIP-3009 tokens besides USDC, with their EIP-712 domain, for servers that do not name it (a
   * `Payment` evm charge names only the token address). x402 servers name it in every offer.
   */
  tokens?: readonly EvmToken[] | undefined
}

const addressPattern = /^0x[0-9a-fA-F]{40}$/
const maxUint256 = 2n ** 256n - 1n
// An authorization a server holds stays valid at most this long, whatever the server asks.
const maxValiditySeconds = 3600

/**
 * Pays EVM offers by signing an EIP-3009 `transferWithAuthorization` (USDC and other
 * FiatToken-style tokens): x402 `exact` and the `Payment` scheme's `evm` charge. Nothing is sent
 * on chain by the payer: the server settles, so the payer needs no gas.
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

  /** Why this signer cannot sign for the chain, or `undefined`. */
  function chainRefusal(chainId: number): string | undefined {
    if (!Number.isSafeInteger(chainId) || chainId < 1) return 'not an EVM chain id'
    if (options.networks && !options.networks.includes(`eip155:${chainId}`))
      return `eip155:${chainId} is not one of this signer's networks`
    // A WalletClient bound to a chain signs for that chain only, whatever `networks` lists.
    if (signer?.chainId !== undefined && signer.chainId !== chainId)
      return `the wallet is bound to eip155:${signer.chainId}`
    return undefined
  }

  const tokens = [...(options.tokens ?? []), ...knownTokens]
  const domainOf = (request: Eip3009Request) =>
    request.domain ?? findTokenDomain(tokens, request.chainId, request.token)

  function refusal(request: Eip3009Request): string | undefined {
    if (!addressPattern.test(request.token)) return 'the token is not an address'
    if (!domainOf(request)) return `the EIP-712 domain of ${request.token} is unknown: list it in evm({ tokens })`
    if (!addressPattern.test(request.to)) return 'the recipient is not an address'
    if (request.value <= 0n || request.value > maxUint256) return 'the amount is not a uint256 above 0'
    return chainRefusal(request.chainId)
  }

  return {
    name: 'evm',
    // The Payment scheme's evm charge is one more envelope for the same authorization.
    protocols: [payment],
    methods: {
      eip3009: {
        refusal,
        async pay(request) {
          const reason = refusal(request)
          if (reason) throw new PayfetchError('PAYMENT_FAILED', `The evm signer cannot pay this offer: ${reason}.`)
          const now = Math.floor(Date.now() / 1000)
          const { validBefore } = request
          const until = 'at' in validBefore ? validBefore.at : now + validBefore.afterSeconds
          return signTransferWithAuthorization(signer, {
            ...request,
            domain: domainOf(request) as { name: string; version: string },
            validAfter: request.validAfterSeconds === undefined ? 0n : BigInt(now - request.validAfterSeconds),
            validBefore: BigInt(Math.min(until, now + maxValiditySeconds)),
          })
        },
      },
    },
  }
}
