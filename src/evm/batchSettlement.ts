import { PayfetchError } from '../errors/PayfetchError.js'
import type { BatchSettlementRequest } from '../methods/BatchSettlement.js'
import type { Protocol } from '../protocols/Protocol.js'
import type { MethodPayer } from '../signers/Signer.js'
import type { TypedDataSigner } from './account.js'
import { batchChannels, type ChannelOptions } from './batchChannel.js'
import { signBatchTurn } from './batchSignatures.js'
import { ensurePermit2Allowance, type Permit2AllowanceOptions, readerRefusal } from './permit2Allowance.js'
import { recipientRefusal } from './recipientRefusal.js'
import { x402Batch } from './x402Batch.js'

/** What `evm({ batchSettlement })` adds: the x402 channel offers read, and a payer for them. */
export type BatchSettlement = {
  readonly protocol: Protocol
  /**
   * The payer for one account; `chainRefusal` says why the account cannot sign for a chain;
   * `allowance` reads (and may grant) the Permit2 allowance a Permit2 deposit needs.
   */
  payer(
    signer: TypedDataSigner,
    chainRefusal: (chainId: number) => string | undefined,
    allowance?: Permit2AllowanceOptions,
  ): MethodPayer<'batch-settlement'>
}

const addressPattern = /^0x[0-9a-fA-F]{40}$/

/**
 * x402 `batch-settlement` channels for `evm()`, opt-in so an app that never pays a channel never
 * bundles them: one deposit the server's facilitator submits (an EIP-3009 `receiveWithAuthorization`,
 * or a Permit2 witness transfer when the server asks for Permit2: that needs `evm({ publicClient })`
 * and a Permit2 allowance, checked before signing), then a cumulative voucher per call, each answer
 * checked before the next signature.
 *
 * @example
 * ```ts
 * import { createPayingFetch } from 'payfetch'
 * import { batchSettlement, evm } from 'payfetch/evm'
 *
 * const fetchPaid = createPayingFetch({
 *   signers: [evm({ account, batchSettlement: batchSettlement({ depositMultiplier: 10, maxDeposit: 100_000n }) })],
 * })
 * ```
 *
 * @throws {PayfetchError} `INVALID_OPTIONS` for a multiplier outside 1–100, a `maxDeposit` that is
 * not a bigint above 0, or a salt that is not 32 bytes of hex.
 */
export function batchSettlement(options: ChannelOptions = {}): BatchSettlement {
  const multiplier = options.depositMultiplier ?? 10
  if (!Number.isSafeInteger(multiplier) || multiplier < 1 || multiplier > 100)
    throw invalid('depositMultiplier must be a whole number from 1 to 100')
  const { maxDeposit, salt } = options
  if (maxDeposit !== undefined && (typeof maxDeposit !== 'bigint' || maxDeposit <= 0n))
    throw invalid('maxDeposit must be a bigint above 0')
  if (salt !== undefined && !/^0x[0-9a-fA-F]{64}$/.test(salt)) throw invalid('salt must be 32 bytes of hex')
  return {
    protocol: x402Batch,
    payer(signer, chainRefusal, allowance = {}) {
      const refusal = (request: BatchSettlementRequest) => {
        if (
          ![request.token, request.receiver, request.receiverAuthorizer].every((address) =>
            addressPattern.test(address),
          )
        )
          return 'the channel terms name something that is not an address'
        const receiver = recipientRefusal(request.receiver, signer.address, 'the channel receiver')
        if (receiver) return receiver
        if (request.amount <= 0n || request.amount >= 2n ** 128n) return 'the price is not a uint128 above 0'
        const unread =
          request.depositMethod.kind === 'permit2'
            ? readerRefusal(allowance.publicClient, request.chainId, 'a Permit2 channel deposit')
            : undefined
        return unread ?? chainRefusal(request.chainId)
      }
      return {
        refusal,
        async pay(request, context) {
          const reason = refusal(request)
          if (reason) throw new PayfetchError('PAYMENT_FAILED', `The evm signer cannot pay this offer: ${reason}.`)
          const now = Math.floor(Date.now() / 1000)
          const { depositMethod, turn } = request
          if (depositMethod.kind !== 'permit2' || turn?.deposit === undefined)
            return signBatchTurn(signer, request, now)
          // Before signing: Permit2 must be able to move the deposit, or the server must sponsor the grant.
          const need = { ...depositMethod, chainId: request.chainId, token: request.token, amount: turn.deposit }
          const deadline = BigInt(now + request.validForSeconds)
          const sponsored = await ensurePermit2Allowance(signer, need, deadline, allowance, context)
          const proof = await signBatchTurn(signer, request, now)
          return sponsored ? { ...proof, sponsored } : proof
        },
        channel: batchChannels(signer.address, options),
      }
    },
  }
}

function invalid(reason: string): PayfetchError {
  return new PayfetchError('INVALID_OPTIONS', `batchSettlement(): ${reason}.`)
}
