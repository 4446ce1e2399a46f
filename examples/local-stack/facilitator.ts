import { x402Facilitator } from '@x402/core/facilitator'
import type { Network } from '@x402/core/types'
import type { FacilitatorEvmSigner } from '@x402/evm'
import { toFacilitatorEvmSigner } from '@x402/evm'
import { BatchSettlementEvmScheme } from '@x402/evm/batch-settlement/facilitator'
import { ExactEvmScheme } from '@x402/evm/exact/facilitator'
import { ExactEvmSchemeV1 } from '@x402/evm/exact/v1/facilitator'
import { UptoEvmScheme } from '@x402/evm/upto/facilitator'
import { createErc20ApprovalGasSponsoringExtension, type TransactionRequest } from '@x402/extensions'
import type { Address, Hash, Hex } from 'viem'
import { parseTransaction, recoverTransactionAddress } from 'viem'
import type { DevWallet } from './clients.js'
import { v1Network, v2Network } from './constants.js'
import { type Settlement, serveFacilitator } from './facilitatorServer.js'

export type { Settlement } from './facilitatorServer.js'

export type FacilitatorServer = {
  readonly url: string
  /** The address that submits settlements and pays their gas. */
  readonly address: Address
  /** Every `/settle` call so far, oldest first. Live: it grows as settlements happen. */
  readonly settlements: readonly Settlement[]
  close(): Promise<void>
}

/**
 * A real x402 facilitator over loopback HTTP (`GET /supported`, `POST /verify`, `POST /settle`),
 * settling `exact` EVM payments (EIP-3009 and Permit2) on the local chain for x402 v2 and v1 alike,
 * `upto` payments (Permit2) and `batch-settlement` channels (deposits, claims, settles, refunds) for v2.
 * It sponsors a payer's Permit2 approval both ways x402
 * defines: an EIP-2612 permit it submits with the payment, or the payer's signed `approve`, whose gas
 * it funds before broadcasting it.
 */
export async function startFacilitator(wallet: DevWallet): Promise<FacilitatorServer> {
  const signer = facilitatorSigner(wallet)
  const facilitator = new x402Facilitator()
    .register(v2Network, new ExactEvmScheme(signer))
    .register(v2Network, new UptoEvmScheme(signer))
    // No authorizer key: the resource server signs its own claims and refunds (its receiverAuthorizer).
    .register(v2Network, new BatchSettlementEvmScheme(signer))
    // v1 payloads name the network (`base-sepolia`), so v1 has its own registration and scheme; the
    // SDK types every network as CAIP-2 even here, hence the cast.
    .registerV1(v1Network as Network, new ExactEvmSchemeV1(signer))
    .registerExtension(
      createErc20ApprovalGasSponsoringExtension({
        ...signer,
        sendTransactions: (transactions) => sendSponsored(wallet, transactions),
      }),
    )

  const served = await serveFacilitator(facilitator)
  return { ...served, address: wallet.account.address }
}

// x402's signer interface is looser than viem's generic action signatures (plain records for ABI and
// typed data), so each action is passed through with its arguments cast to viem's own type.
function facilitatorSigner(wallet: DevWallet): FacilitatorEvmSigner {
  return toFacilitatorEvmSigner({
    address: wallet.account.address,
    readContract: (args) => wallet.readContract(args as Parameters<DevWallet['readContract']>[0]),
    verifyTypedData: (args) => wallet.verifyTypedData(args as Parameters<DevWallet['verifyTypedData']>[0]),
    writeContract: (args) => wallet.writeContract(args as Parameters<DevWallet['writeContract']>[0]),
    sendTransaction: (args) => wallet.sendTransaction(args),
    waitForTransactionReceipt: (args) => wallet.waitForTransactionReceipt(args),
    getCode: (args) => wallet.getCode(args),
  })
}

// Sponsoring a payer's signed `approve`: the facilitator sends the payer the gas it needs, then
// broadcasts the approval and its own settlement call, one after the other, each mined.
async function sendSponsored(wallet: DevWallet, transactions: readonly TransactionRequest[]): Promise<Hex[]> {
  const hashes: Hash[] = []
  for (const transaction of transactions) {
    let hash: Hash
    if (typeof transaction === 'string') {
      const parsed = parseTransaction(transaction)
      const payer = await recoverTransactionAddress({ serializedTransaction: transaction as never })
      const cost = (parsed.gas ?? 0n) * (parsed.maxFeePerGas ?? parsed.gasPrice ?? 0n)
      const balance = await wallet.getBalance({ address: payer })
      if (balance < cost) {
        const funding = await wallet.sendTransaction({ to: payer, value: cost - balance })
        await wallet.waitForTransactionReceipt({ hash: funding })
      }
      hash = await wallet.sendRawTransaction({ serializedTransaction: transaction })
    } else {
      hash = await wallet.sendTransaction({ to: transaction.to, data: transaction.data, gas: transaction.gas })
    }
    const receipt = await wallet.waitForTransactionReceipt({ hash })
    if (receipt.status !== 'success') throw new Error(`sponsored transaction ${hash} reverted`)
    hashes.push(hash)
  }
  return hashes
}
