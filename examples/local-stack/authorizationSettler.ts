import { Errors } from 'mppx'
import type { charge } from 'mppx/evm/server'
import type { Address, Hash, Hex } from 'viem'
import { BaseError, getAddress } from 'viem'
import type { DevWallet } from './clients.js'
import { tokenAbi } from './tokenAbi.js'

/** One EIP-3009 authorization the settler put on chain. */
export type AuthorizationSettlement = {
  readonly token: Address
  readonly from: Address
  readonly to: Address
  readonly value: bigint
  readonly nonce: Hex
  readonly txHash: Hash
}

export type AuthorizationSettler = {
  /** mppx's `evm.charge({ settle })` hook. */
  readonly settle: charge.SettleAuthorization
  /** Every settled authorization, oldest first; grows live. */
  readonly settlements: readonly AuthorizationSettlement[]
}

/**
 * What an x402 facilitator does for mppx's EVM charge, done in process: simulate
 * `transferWithAuthorization(…, bytes signature)` on the challenge's token, send it from `wallet`,
 * wait for the receipt and return its hash as the receipt `reference`. mppx keeps no replay store
 * for EVM charges, so a replayed credential is refused here, by the token's used-nonce check; a
 * revert becomes mppx's `VerificationFailedError`, which mppx answers with a 402.
 */
export function createAuthorizationSettler(wallet: DevWallet): AuthorizationSettler {
  const settlements: AuthorizationSettlement[] = []
  const settle: charge.SettleAuthorization = async ({ payload, request }) => {
    const token = getAddress(request.currency)
    const args = [
      getAddress(payload.from),
      getAddress(payload.to),
      BigInt(payload.value),
      BigInt(payload.validAfter),
      BigInt(payload.validBefore),
      payload.nonce as Hex,
      payload.signature as Hex,
    ] as const
    let txHash: Hash
    try {
      const { request: call } = await wallet.simulateContract({
        address: token,
        abi: tokenAbi,
        functionName: 'transferWithAuthorization',
        args,
      })
      txHash = await wallet.writeContract(call)
    } catch (error) {
      throw new Errors.VerificationFailedError({ reason: reasonOf(error) })
    }
    const receipt = await wallet.waitForTransactionReceipt({ hash: txHash })
    if (receipt.status !== 'success')
      throw new Errors.VerificationFailedError({ reason: `settlement reverted: ${txHash}` })
    const [from, to, value, , , nonce] = args
    settlements.push({ token, from, to, value, nonce, txHash })
    return { reference: txHash }
  }
  return { settle, settlements }
}

// The revert reason (e.g. "FiatTokenV2: authorization is used or canceled") without viem's call dump.
function reasonOf(error: unknown): string {
  if (error instanceof BaseError) return error.shortMessage
  return error instanceof Error ? error.message : String(error)
}
