import {
  type Address,
  address,
  getBase64EncodedWireTransaction,
  getBase64Encoder,
  getSignatureFromTransaction,
  getTransactionDecoder,
  type KeyPairSigner,
  partiallySignTransaction,
  type Transaction,
  signature as toSignature,
} from '@solana/kit'
import { x402Facilitator } from '@x402/core/facilitator'
import type { Network } from '@x402/core/types'
import { type FacilitatorSvmSigner, TransactionOnchainFailureError } from '@x402/svm'
import { ExactSvmScheme } from '@x402/svm/exact/facilitator'
import { ExactSvmSchemeV1 } from '@x402/svm/exact/v1/facilitator'
import { FailedTransactionMetadata, type LiteSVM } from 'litesvm'
import { type Settlement, serveFacilitator } from './facilitatorServer.js'

/** One call to the facilitator's `/settle`; `transaction` is the base58 signature. */
export type SolanaSettlement = Settlement

export type SolanaFacilitatorServer = {
  readonly url: string
  /** The fee payer the facilitator offers in `extra.feePayer`, co-signs with and pays fees from. */
  readonly feePayer: Address
  /** Every `/settle` so far, oldest first; grows live. */
  readonly settlements: readonly SolanaSettlement[]
  close(): Promise<void>
}

const decodeWire = (base64: string): Transaction => getTransactionDecoder().decode(getBase64Encoder().encode(base64))

/**
 * The x402 `FacilitatorSvmSigner` on a LiteSVM: it co-signs as fee payer with a real key, simulates
 * and sends with signature verification on, and confirms from the LiteSVM's transaction history.
 */
export function liteSvmFacilitatorSigner(svm: LiteSVM, feePayer: KeyPairSigner): FacilitatorSvmSigner {
  function result(transaction: Transaction, simulate: boolean) {
    return simulate ? svm.simulateTransaction(transaction) : svm.sendTransaction(transaction)
  }
  function failure(outcome: unknown): string | undefined {
    if (!(outcome instanceof FailedTransactionMetadata)) return undefined
    return `${outcome.toString()}\n${outcome.meta().logs().join('\n')}`
  }
  return {
    getAddresses: () => [feePayer.address],
    async signTransaction(transaction, payer) {
      if (payer !== feePayer.address) throw new Error(`no signer for fee payer ${payer}`)
      return getBase64EncodedWireTransaction(
        await partiallySignTransaction([feePayer.keyPair], decodeWire(transaction)),
      )
    },
    async simulateTransaction(transaction) {
      // Simulate exactly what would be sent: the fee payer signs a copy, so every signature is checked.
      const signed = await partiallySignTransaction([feePayer.keyPair], decodeWire(transaction))
      const problem = failure(result(signed, true))
      if (problem) throw new Error(`simulation failed: ${problem}`)
    },
    async sendTransaction(transaction) {
      const decoded = decodeWire(transaction)
      const problem = failure(result(decoded, false))
      if (problem) throw new Error(`send failed: ${problem}`)
      return getSignatureFromTransaction(decoded)
    },
    async confirmTransaction(signature) {
      const processed = svm.getTransaction(toSignature(signature))
      if (processed === null) throw new Error(`transaction ${signature} not found`)
      if (processed instanceof FailedTransactionMetadata) throw new TransactionOnchainFailureError(processed.toString())
    },
    async getTokenAccountBalance(tokenAccount) {
      const account = svm.getAccount(address(tokenAccount))
      return account.exists ? new DataView(account.data.buffer, account.data.byteOffset).getBigUint64(64, true) : null
    },
  }
}

/**
 * A real x402 facilitator over loopback HTTP (`GET /supported`, `POST /verify`, `POST /settle`):
 * the reference `ExactSvmScheme` (v2, CAIP-2) and `ExactSvmSchemeV1` (v1 names) on the LiteSVM.
 */
export async function startSolanaFacilitator(options: {
  svm: LiteSVM
  feePayer: KeyPairSigner
  network: string
  v1Network: string
}): Promise<SolanaFacilitatorServer> {
  const signer = liteSvmFacilitatorSigner(options.svm, options.feePayer)
  const facilitator = new x402Facilitator()
    .register(options.network as Network, new ExactSvmScheme(signer))
    // The SDK types every network as CAIP-2, v1 names included, hence the cast.
    .registerV1(options.v1Network as Network, new ExactSvmSchemeV1(signer))
  const served = await serveFacilitator(facilitator)
  return { ...served, feePayer: options.feePayer.address }
}
