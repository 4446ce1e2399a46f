import { x402Facilitator } from '@x402/core/facilitator'
import type { Network } from '@x402/core/types'
import type { FacilitatorEvmSigner } from '@x402/evm'
import { toFacilitatorEvmSigner } from '@x402/evm'
import { ExactEvmScheme } from '@x402/evm/exact/facilitator'
import { ExactEvmSchemeV1 } from '@x402/evm/exact/v1/facilitator'
import type { Address } from 'viem'
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
 * settling `exact` EVM payments on the local chain for x402 v2 and v1 alike.
 */
export async function startFacilitator(wallet: DevWallet): Promise<FacilitatorServer> {
  const signer = facilitatorSigner(wallet)
  const facilitator = new x402Facilitator()
    .register(v2Network, new ExactEvmScheme(signer))
    // v1 payloads name the network (`base-sepolia`), so v1 has its own registration and scheme; the
    // SDK types every network as CAIP-2 even here, hence the cast.
    .registerV1(v1Network as Network, new ExactEvmSchemeV1(signer))

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
