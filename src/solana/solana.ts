import { type Address, getBase64EncodedWireTransaction, isAddress } from '@solana/kit'
import { PayfetchError } from '../errors/PayfetchError.js'
import type { SplTransferRequest } from '../methods/SplTransfer.js'
import { payment } from '../protocols/payment/index.js'
import { solanaMainnet } from '../protocols/x402/networks.js'
import type { Signer } from '../signers/Signer.js'
import { resolveBlockhash } from './blockhash.js'
import { maxU64 } from './instructions.js'
import { createMintCache } from './mint.js'
import { buildPaymentTransaction } from './paymentTransaction.js'
import { systemProgram } from './programs.js'
import { isSolanaRpc, rpcFromUrl, type SolanaRpc } from './rpc.js'
import { acceptSignedTransaction } from './signedTransaction.js'
import { type SignableTransaction, type SolanaSigner, toPayerSigner } from './signer.js'
import { signInWithSolana } from './signInWithSolana.js'

export type SolanaOptions = {
  /** Who pays: a `@solana/kit` signer, a `@solana/web3.js` `Keypair`, or `walletAdapter(wallet, VersionedTransaction)`. */
  signer: SolanaSigner
  /**
   * Where mints and blockhashes are read: an RPC URL, or a `@solana/kit` `Rpc`
   * (`createSolanaRpc(url)`). It must serve the cluster of `networks`.
   */
  rpc: SolanaRpc | string
  /**
   * CAIP-2 ids of the clusters `rpc` serves, e.g. `['solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1']` for
   * devnet. Default: mainnet only (`solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp`). x402 v1 names
   * (`solana`, `solana-devnet`) arrive already mapped to these ids.
   */
  networks?: readonly string[] | undefined
}

const solanaNetworkPattern = /^solana:[1-9A-HJ-NP-Za-km-z]{1,32}$/
/** The x402 limit on `extra.memo`, in UTF-8 bytes. */
const maxMemoBytes = 256

/**
 * Pays x402 `exact` offers on Solana with an SPL `TransferChecked` (Token and Token-2022 mints),
 * in the transaction layout x402 facilitators verify. The payer only signs: the server's
 * facilitator is the fee payer (`extra.feePayer`), co-signs and submits, so the payer needs no SOL.
 *
 * Before anything is signed payfetch reads the mint through `rpc` (its decimals and token program,
 * cached per network and mint) and refuses offers whose network, mint, recipient, amount, memo or
 * fee payer it cannot honour; a fee payer that is the payer itself or any account of the transfer is
 * refused, so a server cannot make the payer pay fees or sign for its accounts.
 *
 * @example
 * ```ts
 * import { createPayingFetch } from 'payfetch'
 * import { solana } from 'payfetch/solana'
 * import { createKeyPairSignerFromBytes } from '@solana/kit'
 *
 * const signer = await createKeyPairSignerFromBytes(secretKeyBytes)
 * const fetchPaid = createPayingFetch({
 *   signers: [solana({ signer, rpc: 'https://api.mainnet-beta.solana.com' })],
 *   caps: { perRequest: { usd: '0.10' } },
 * })
 * const response = await fetchPaid('https://api.example.com/report')
 * ```
 *
 * @throws {PayfetchError} `INVALID_OPTIONS` when the signer, `rpc` or `networks` are unusable.
 */
export function solana(options: SolanaOptions): Signer {
  const payer = toPayerSigner(options?.signer)
  const rpc = typeof options.rpc === 'string' ? rpcFromUrl(options.rpc) : options.rpc
  if (!isSolanaRpc(rpc))
    throw new PayfetchError('INVALID_OPTIONS', 'solana() needs rpc: an http(s) URL or a @solana/kit Rpc.')
  const networks = options.networks ?? [solanaMainnet]
  const badNetwork = Array.isArray(networks)
    ? networks.find((network) => typeof network !== 'string' || !solanaNetworkPattern.test(network))
    : networks
  if (!Array.isArray(networks) || networks.length === 0 || badNetwork !== undefined)
    throw new PayfetchError(
      'INVALID_OPTIONS',
      'solana() networks must be Solana CAIP-2 ids such as solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp.',
      {
        details: { network: String(badNetwork) },
      },
    )
  const readMint = createMintCache(rpc)

  /** Why this signer cannot pay the request, or `undefined` when it can; no I/O, no signing. */
  function refusal(request: SplTransferRequest): string | undefined {
    if (!networks.includes(request.network)) return `network ${request.network} is not one this signer pays on`
    if (!isAddress(request.mint)) return 'the asset is not a Solana mint address'
    if (!isAddress(request.payTo)) return 'payTo is not a Solana address'
    // Paying oneself moves nothing yet would be counted as spent; the System Program owns no tokens.
    if (request.payTo === payer.address) return 'payTo is the paying account itself'
    if (request.payTo === systemProgram) return 'payTo is the System Program'
    if (request.amount <= 0n || request.amount > maxU64) return 'the amount does not fit an SPL token transfer (u64)'
    const { feePayer } = request
    if (!isAddress(feePayer)) return 'the fee payer is not a Solana address'
    if (feePayer === payer.address)
      return 'the fee payer is the payer itself: it would pay the fees and sign as fee payer'
    if (feePayer === request.mint) return 'the fee payer is the mint'
    if (serverMemo(request) === undefined) return `the memo must be at most ${maxMemoBytes} UTF-8 bytes`
    return undefined
  }

  return {
    name: 'solana',
    protocols: [payment],
    // Where it paid an x402 server that offers sign-in-with-x, it signs in (SIWS) instead of paying again.
    signIn: signInWithSolana(payer, networks),
    methods: {
      'spl-transfer': {
        refusal,
        async pay(request, { signal }) {
          const reason = refusal(request)
          if (reason !== undefined)
            throw new PayfetchError('PAYMENT_FAILED', `The solana signer cannot pay this offer: ${reason}.`, {
              details: { network: request.network },
            })
          const mint = request.mint as Address
          const feePayer = request.feePayer as Address
          const [{ decimals, tokenProgram }, lifetime] = await Promise.all([
            readMint(request.network, mint, signal),
            resolveBlockhash(request, rpc, signal),
          ])
          // Caps valued the offer with the listed decimals; a mint that disagrees is not the asset they priced.
          const listed = request.decimals
          if (listed !== undefined && listed !== decimals)
            throw new PayfetchError(
              'PAYMENT_FAILED',
              `The mint ${mint} has ${decimals} decimals on chain, not the ${listed} payfetch priced it with.`,
              { details: { mint, decimals, expected: listed } },
            )
          const transaction = await buildPaymentTransaction({
            payer: payer.address,
            feePayer,
            payTo: request.payTo as Address,
            mint,
            tokenProgram,
            decimals,
            amount: request.amount,
            memo: serverMemo(request) ?? randomMemo(),
            lifetime,
          })
          const signed = await payer.sign(transaction as SignableTransaction, signal)
          const accepted = await acceptSignedTransaction(transaction, signed, payer.address, feePayer)
          return { kind: 'spl-transfer', transaction: getBase64EncodedWireTransaction(accepted), payer: payer.address }
        },
      },
    },
  }
}

/**
 * The memo the server names in `extra.memo` (facilitators then require exactly it): its UTF-8
 * bytes, `null` when it names none, `undefined` when it is unusable.
 */
function serverMemo({ memo }: SplTransferRequest): Uint8Array | null | undefined {
  if (memo === undefined) return null
  const bytes = new TextEncoder().encode(memo)
  return bytes.length <= maxMemoBytes ? bytes : undefined
}

/** 16 random bytes in hex, so two identical payments are two different transactions. */
function randomMemo(): Uint8Array {
  const nonce = crypto.getRandomValues(new Uint8Array(16))
  return new TextEncoder().encode(Array.from(nonce, (byte) => byte.toString(16).padStart(2, '0')).join(''))
}
