import { type Address, getAddress, type Hex, isAddress, type LocalAccount } from 'viem'
import { prepareTransactionRequest } from 'viem/actions'
import { PayfetchError } from '../errors/PayfetchError.js'
import { recipientRefusal } from '../evm/recipientRefusal.js'
import { abortable } from '../lightning/abortable.js'
import type { TempoTransferRequest } from '../methods/TempoTransfer.js'
import { payment } from '../protocols/payment/index.js'
import type { Signer } from '../signers/Signer.js'
import { maxNetworkFee } from './networkFee.js'
import { type TempoClient, tempoClients } from './tempoClients.js'
import { transferCalls } from './transferCalls.js'

export type TempoOptions = {
  /** Who pays: a viem `LocalAccount` (`privateKeyToAccount`, `mnemonicToAccount`, …). */
  account: LocalAccount
  /**
   * Where the transaction is prepared (gas estimate and fee price; nothing is ever sent): an
   * http(s) RPC URL of the one chain in `networks`, or a viem `Client` on a Tempo chain
   * (`createClient({ chain: tempoModerato, transport: http(url) })`, or your own `Chain` for a
   * chain viem does not know). Default: the public RPC of each network (mainnet and Moderato).
   */
  rpc?: string | TempoClient | undefined
  /**
   * CAIP-2 ids of the Tempo chains this signer pays on. Default: Tempo mainnet only
   * (`['eip155:4217']`); the Moderato testnet (`eip155:42431`) or a local chain must be listed.
   */
  networks?: readonly string[] | undefined
  /**
   * The most an unsponsored payment may spend on the network fee, in base units of the charge's
   * own token: payfetch names that token as the transaction's fee token, so Tempo charges the fee
   * in it (a USD TIP-20 token: 6 decimals, one unit is $0.000001). Caps and budgets count the
   * amount plus this limit; a transaction that could cost more is refused before it is signed.
   * Sponsored charges (the server pays the fee) cost nothing on top. Default: `10_000n` ($0.01 of a
   * USD stablecoin, about ten times a plain transfer at Tempo's base fee).
   */
  maxFee?: bigint | undefined
}

const tempoMainnet = 'eip155:4217'
const networkPattern = /^eip155:[1-9][0-9]{0,15}$/
const addressPattern = /^0x[0-9a-fA-F]{40}$/
const bytes32 = /^0x[0-9a-fA-F]{64}$/
const maxUint256 = 2n ** 256n - 1n
const defaultMaxFee = 10_000n
// TIP-1009: an expiring-nonce transaction must have validBefore at most 30 s past the chain's
// clock. 25 s (viem's and mppx's window) leaves room for a payer clock a little ahead of the chain.
const maxValiditySeconds = 25
// The node estimates gas with a placeholder signature and, in fee-payer mode, without the
// sponsor's; the real signatures cost a little more (mppx adds the same margin).
const signatureGas = 5_000n

/**
 * Pays the `Payment` scheme's Tempo charge ("pull" mode): it signs one Tempo transaction of TIP-20
 * `transferWithMemo` calls (one per recipient, splits included) with an expiring nonce, and the
 * server broadcasts it. When the server sponsors the fee (`feePayer`), the transaction is signed for
 * a fee payer and the server co-signs it; otherwise the payer pays the fee in the charge's token,
 * up to `maxFee`. The payer never broadcasts anything.
 *
 * @example
 * ```ts
 * import { createPayingFetch } from 'payfetch'
 * import { tempo } from 'payfetch/tempo'
 * import { privateKeyToAccount } from 'viem/accounts'
 *
 * const account = privateKeyToAccount(process.env.PAYER_KEY as `0x${string}`)
 * const fetchPaid = createPayingFetch({
 *   signers: [tempo({ account, maxFee: 5_000n })], // Tempo mainnet; at most $0.005 of fees
 *   caps: { perRequest: { usd: '0.10' } },
 * })
 * const response = await fetchPaid('https://api.example.com/report')
 * ```
 *
 * @throws {PayfetchError} `INVALID_OPTIONS` when the account, `rpc`, `networks` or `maxFee` are unusable.
 */
export function tempo(options: TempoOptions): Signer {
  const account = options?.account
  if (!isLocalAccount(account))
    throw new PayfetchError(
      'INVALID_OPTIONS',
      'tempo() needs account: a viem LocalAccount (privateKeyToAccount, mnemonicToAccount, …) that signs transactions.',
    )
  const maxFee = options.maxFee ?? defaultMaxFee
  if (typeof maxFee !== 'bigint' || maxFee < 0n)
    throw new PayfetchError(
      'INVALID_OPTIONS',
      'tempo() maxFee must be a bigint of base units of the charge token, 0n or more.',
    )
  const networks = options.networks ?? [tempoMainnet]
  const badNetwork = Array.isArray(networks)
    ? networks.find((network) => typeof network !== 'string' || !networkPattern.test(network))
    : networks
  if (!Array.isArray(networks) || networks.length === 0 || badNetwork !== undefined)
    throw new PayfetchError('INVALID_OPTIONS', 'tempo() networks must be EVM CAIP-2 ids such as eip155:4217.', {
      details: { network: String(badNetwork) },
    })
  const clientFor = tempoClients(
    options.rpc,
    networks.map((network) => Number(network.slice('eip155:'.length))),
  )
  if (typeof clientFor === 'string') throw new PayfetchError('INVALID_OPTIONS', `tempo(): ${clientFor}.`)
  const payer = getAddress(account.address)

  /** Why this signer cannot pay the request, or `undefined` when it can; no I/O, no signing. */
  function refusal(request: TempoTransferRequest): string | undefined {
    const network = `eip155:${request.chainId}`
    if (!networks.includes(network)) return `${network} is not one of this signer's networks`
    if (!isEvmAddress(request.token)) return 'the token is not an address'
    if (!isEvmAddress(request.to)) return 'the recipient is not an address'
    const recipient = recipientRefusal(request.to, payer)
    if (recipient) return recipient
    if (request.amount <= 0n || request.amount > maxUint256) return 'the amount is not a uint256 above 0'
    let splitTotal = 0n
    for (const split of request.splits ?? []) {
      if (!isEvmAddress(split.to)) return 'a split recipient is not an address'
      const splitRecipient = recipientRefusal(split.to, payer, 'a split recipient')
      if (splitRecipient) return splitRecipient
      if (split.amount <= 0n) return 'a split amount is not above 0'
      if (split.memo !== undefined && !bytes32.test(split.memo)) return 'a split memo is not bytes32'
      splitTotal += split.amount
    }
    if (splitTotal >= request.amount) return 'the splits leave the primary recipient nothing'
    const { memo } = request
    if (typeof memo === 'string' ? !bytes32.test(memo) : !isChallengeBinding(memo))
      return 'the memo is neither bytes32 nor a challenge id and realm'
    const { validBefore } = request
    if (validBefore !== undefined && !Number.isSafeInteger(validBefore))
      return 'validBefore is not a Unix time in whole seconds'
    if (validBefore !== undefined && validBefore <= nowSeconds()) return 'the challenge has expired'
    return undefined
  }

  return {
    name: 'tempo',
    // The Tempo charge arrives only in the Payment scheme.
    protocols: [payment],
    methods: {
      'tempo-transfer': {
        refusal,
        maxFee: (request) => (request.feePayer ? 0n : maxFee),
        async pay(request, { signal }) {
          const network = `eip155:${request.chainId}`
          const reason = refusal(request)
          if (reason !== undefined)
            throw new PayfetchError('PAYMENT_FAILED', `The tempo signer cannot pay this offer: ${reason}.`, {
              details: { network },
            })
          const failed = (shortMessage: string, cause?: unknown, details: Record<string, unknown> = {}) => {
            // An abort is the caller's, as with fetch: its reason, not a payment failure.
            if (signal?.aborted) return signal.reason
            return new PayfetchError('PAYMENT_FAILED', shortMessage, { details: { network, ...details }, cause })
          }
          const client = clientFor(request.chainId)
          const serialize = client.chain?.serializers?.transaction
          if (!serialize) throw failed(`The client's chain has no Tempo transaction serializer.`)
          const validBefore = Math.min(
            nowSeconds() + maxValiditySeconds,
            request.validBefore ?? Number.POSITIVE_INFINITY,
          )

          let prepared: PreparedTempoTransaction
          try {
            signal?.throwIfAborted()
            const pending = prepareTransactionRequest(client, {
              account,
              chainId: request.chainId,
              calls: transferCalls(request),
              nonceKey: 'expiring',
              validBefore,
              // Unsponsored, the fee is paid in the charge's token, so maxFee is in its units.
              ...(request.feePayer ? {} : { feeToken: getAddress(request.token) }),
            } as never) as Promise<unknown>
            prepared = (await (signal ? abortable(pending, signal) : pending)) as PreparedTempoTransaction
          } catch (cause) {
            throw failed('The Tempo transaction could not be prepared.', cause)
          }
          const gas = (prepared.gas ?? 0n) + signatureGas
          const transaction: PreparedTempoTransaction = { ...prepared, gas }
          if (request.feePayer) {
            // Signed for a fee payer: without the sponsor's signature the transaction cannot be
            // sent, so the server cannot make the payer pay the fee.
            delete transaction.feeToken
            delete transaction.feePayerSignature
            transaction.feePayer = true
          } else {
            if (prepared.maxFeePerGas === undefined) throw failed('The RPC named no fee price for the transaction.')
            const fee = maxNetworkFee(gas, prepared.maxFeePerGas)
            if (fee > maxFee)
              throw failed(
                `The network fee could reach ${fee} base units, above the tempo signer's maxFee of ${maxFee}.`,
                undefined,
                { fee: fee.toString(), maxFee: maxFee.toString() },
              )
          }

          let signed: Hex
          try {
            signal?.throwIfAborted()
            signed = await account.signTransaction(transaction as never, { serializer: serialize as never })
          } catch (cause) {
            throw failed('The Tempo transaction could not be signed.', cause)
          }
          // 0x76: a Tempo transaction; 0x78: one signed for a fee payer. Anything else is not Tempo.
          if (!/^0x7[68]/.test(signed)) throw failed(`The client's chain did not serialize a Tempo transaction.`)
          return { kind: 'tempo-transfer', transaction: signed, payer }
        },
      },
    },
  }
}

/** The fields payfetch reads or changes on what viem's Tempo chain prepares. */
type PreparedTempoTransaction = {
  gas?: bigint | undefined
  maxFeePerGas?: bigint | undefined
  feeToken?: Address | undefined
  feePayerSignature?: unknown
  feePayer?: boolean | undefined
  [field: string]: unknown
}

function isLocalAccount(value: unknown): value is LocalAccount {
  if (typeof value !== 'object' || value === null) return false
  const { type, address, signTransaction } = value as Partial<LocalAccount>
  return type === 'local' && typeof address === 'string' && isAddress(address) && typeof signTransaction === 'function'
}

/**
 * A 20-byte hex address. The charge draft compares addresses by value, so all lower or all upper
 * case is fine; mixed case claims an EIP-55 checksum, and one that fails is a typo somewhere.
 */
function isEvmAddress(value: unknown): boolean {
  if (typeof value !== 'string' || !addressPattern.test(value)) return false
  const hex = value.slice(2)
  return hex === hex.toLowerCase() || hex === hex.toUpperCase() || isAddress(value)
}

function isChallengeBinding(memo: unknown): boolean {
  if (typeof memo !== 'object' || memo === null) return false
  const { challengeId, realm } = memo as Record<string, unknown>
  return typeof challengeId === 'string' && challengeId.length > 0 && typeof realm === 'string' && realm.length > 0
}

const nowSeconds = () => Math.floor(Date.now() / 1000)
