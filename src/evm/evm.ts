import { PayfetchError } from '../errors/PayfetchError.js'
import type { Eip3009Request } from '../methods/Eip3009.js'
import type { Permit2Request } from '../methods/Permit2.js'
import { payment } from '../protocols/payment/index.js'
import type { Signer } from '../signers/Signer.js'
import { withFields } from '../utils/withFields.js'
import { type EvmAccount, type EvmWalletClient, toTypedDataSigner } from './account.js'
import type { BatchSettlement } from './batchSettlement.js'
import { signTransferWithAuthorization } from './eip3009.js'
import { signPermitWitnessTransfer } from './permit2.js'
import { type EvmChainReader, ensurePermit2Allowance, type Permit2Approval, readerRefusal } from './permit2Allowance.js'
import { recipientRefusal } from './recipientRefusal.js'
import { signInWithEthereum } from './signInWithEthereum.js'
import { type EvmToken, findTokenDomain, knownTokens } from './tokenDomains.js'
import { x402Permit2 } from './x402Permit2.js'

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
  /**
   * Reads the chain for Permit2 payments (x402 `exact` with Permit2, `upto`, a `batch-settlement`
   * deposit through Permit2): the payer's Permit2 allowance before signing, and what a
   * server-sponsored approval needs (an EIP-2612 nonce, fees). Without it, Permit2 offers are
   * refused (EIP-3009 offers need no chain reads). A client bound to a chain (made with `chain`)
   * serves that chain only: Permit2 offers on others are refused too.
   */
  publicClient?: EvmChainReader | undefined
  /**
   * Opt-in: when Permit2 has no allowance and the server sponsors no approval, send the payer's own
   * `approve(Permit2, allowance)` from this wallet (the payer pays its gas), reported as an
   * `approval.sent` event. Needs `publicClient`. Without it payfetch refuses with
   * `ALLOWANCE_REQUIRED` before signing.
   */
  approvePermit2?: Permit2Approval | undefined
  /**
   * Opt-in: pay x402 `batch-settlement` channels, as `batchSettlement({ depositMultiplier,
   * maxDeposit, … })` sizes them. Channels are kept in the paying fetch's `sessions`, so a file or
   * Redis store lets a restarted process continue them. Without it such offers are shown, never paid.
   */
  batchSettlement?: BatchSettlement | undefined
}

const addressPattern = /^0x[0-9a-fA-F]{40}$/
const maxUint256 = 2n ** 256n - 1n
// An authorization a server holds stays valid at most this long, whatever the server asks.
const maxValiditySeconds = 3600

/**
 * Pays EVM offers by signing an EIP-3009 `transferWithAuthorization` (USDC and other
 * FiatToken-style tokens): x402 `exact` and the `Payment` scheme's `evm` charge; and by signing a
 * Permit2 witness transfer to the x402 Permit2 proxies (any ERC-20): x402 `exact` with
 * `assetTransferMethod: "permit2"` and x402 `upto`. Nothing is sent on chain by the payer: the
 * server settles, so the payer needs no gas (except for an opt-in `approvePermit2`). An account that
 * can `signMessage` also signs in (SIWE) to x402 servers that offer sign-in-with-x where it paid
 * before, instead of paying again.
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
  const payer = signer.address
  const approval = options.approvePermit2
  if (
    approval &&
    (!options.publicClient || approval.wallet?.account?.address?.toLowerCase() !== signer.address.toLowerCase())
  )
    throw new PayfetchError(
      'INVALID_OPTIONS',
      'evm({ approvePermit2 }) needs a publicClient and a wallet whose account is the paying account.',
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
    const recipient = recipientRefusal(request.to, payer)
    if (recipient) return recipient
    if (request.value <= 0n || request.value > maxUint256) return 'the amount is not a uint256 above 0'
    return chainRefusal(request.chainId)
  }

  function permit2Refusal(request: Permit2Request): string | undefined {
    const unread = readerRefusal(options.publicClient, request.chainId, 'paying through Permit2')
    if (unread) return unread
    if (!addressPattern.test(request.token)) return 'the token is not an address'
    if (!addressPattern.test(request.to)) return 'the recipient is not an address'
    const recipient = recipientRefusal(request.to, payer)
    if (recipient) return recipient
    if (request.amount <= 0n || request.amount > maxUint256) return 'the amount is not a uint256 above 0'
    if (request.proxy === 'upto' && !addressPattern.test(request.facilitator ?? ''))
      return 'the upto facilitator is not an address'
    return chainRefusal(request.chainId)
  }

  return {
    name: 'evm',
    // The Payment scheme's evm charge is one more envelope for the same authorization; x402 offers
    // paid through Permit2 (`exact` with Permit2, `upto`) are read here, not in the root.
    protocols: options.batchSettlement
      ? [payment, x402Permit2, options.batchSettlement.protocol]
      : [payment, x402Permit2],
    // Where it paid an x402 server that offers sign-in-with-x, it signs in (SIWE) instead of paying again.
    signIn: signInWithEthereum(signer, chainRefusal),
    methods: {
      eip3009: {
        refusal,
        async pay(request) {
          const reason = refusal(request)
          if (reason) throw new PayfetchError('PAYMENT_FAILED', `The evm signer cannot pay this offer: ${reason}.`)
          const now = Math.floor(Date.now() / 1000)
          const { validBefore } = request
          const until = 'at' in validBefore ? validBefore.at : now + validBefore.afterSeconds
          return signTransferWithAuthorization(
            signer,
            withFields(request, {
              domain: domainOf(request) as { name: string; version: string },
              validAfter: request.validAfterSeconds === undefined ? 0n : BigInt(now - request.validAfterSeconds),
              validBefore: BigInt(Math.min(until, now + maxValiditySeconds)),
            }),
          )
        },
      },
      permit2: {
        refusal: permit2Refusal,
        async pay(request, context) {
          const reason = permit2Refusal(request)
          if (reason) throw new PayfetchError('PAYMENT_FAILED', `The evm signer cannot pay this offer: ${reason}.`)
          const now = Math.floor(Date.now() / 1000)
          const deadline = BigInt(now + Math.min(request.deadlineAfterSeconds, maxValiditySeconds))
          // Before signing: a permit Permit2 cannot honour would only sit with the server until its deadline.
          const sponsored = await ensurePermit2Allowance(signer, request, deadline, options, context)
          const proof = await signPermitWitnessTransfer(signer, request, deadline)
          return sponsored ? { ...proof, sponsored } : proof
        },
      },
      ...(options.batchSettlement && {
        'batch-settlement': options.batchSettlement.payer(signer, chainRefusal, options),
      }),
    },
  }
}
