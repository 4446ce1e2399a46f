/**
 * payfetch/solana: the Solana signer for x402 `exact` (an SPL `TransferChecked` the server's
 * facilitator co-signs and submits), built on `@solana/kit`, this entry's peer dependency (install
 * `@solana/kit` >= 5 next to payfetch; nothing else of Solana's is needed). `@solana/web3.js` 1.x
 * keypairs and wallet adapters work too, without payfetch depending on web3.js.
 *
 * @module
 */
export type { PendingRpcRequest, SolanaRpc } from './rpc.js'
export type { SolanaSigner, Web3Keypair } from './signer.js'
export { type SolanaOptions, solana } from './solana.js'
export {
  type Web3VersionedTransaction,
  type Web3VersionedTransactionClass,
  type Web3Wallet,
  walletAdapter,
} from './walletAdapter.js'
