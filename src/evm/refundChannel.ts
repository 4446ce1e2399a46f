import { PayfetchError } from '../errors/PayfetchError.js'
import type { SessionStore } from '../sessions/SessionStore.js'
import type { ChannelReport } from '../signers/Signer.js'
import { type EvmAccount, type EvmWalletClient, toTypedDataSigner } from './account.js'
import { batchChannels, type ChannelOptions } from './batchChannel.js'
import { signBatchTurn } from './batchSignatures.js'
import { x402Batch } from './x402Batch.js'

export type RefundChannelOptions = {
  /** The account that paid through the channel (the one given to `evm()`). */
  account: EvmAccount | EvmWalletClient
  /** A URL of the server that is paid through the channel: its 402 names the channel's terms. */
  url: string
  /** The sessions the paying fetch keeps its channels in. */
  sessions: SessionStore
  /** Refund only this much, in atomic units. Default: everything not charged. */
  amount?: bigint | undefined
  /** The channel options given to `evm()` (its salt, how long to wait for a call holding the channel). */
  channels?: ChannelOptions | undefined
  fetch?: typeof fetch | undefined
  /** Reports the refund (`channel.refund`), or a channel set aside (`channel.unusable`). */
  onEvent?: ((event: ChannelReport) => void) | undefined
}

/** What a cooperative refund returned to the payer. */
export type ChannelRefund = {
  readonly channelId: string
  /** In the token's atomic units. */
  readonly returned: bigint
  /** The refund's transaction hash, when the server reports it. */
  readonly transaction?: string | undefined
}

/**
 * Asks the server to close a `batch-settlement` channel cooperatively: a voucher at exactly what it
 * has charged, and the rest of the deposit returned to the payer in one transaction the server's
 * facilitator sends. The channel's record leaves the sessions (or shrinks, for a partial refund).
 *
 * @example
 * ```ts
 * import { refundChannel } from 'payfetch/evm'
 * import { fileSessions } from 'payfetch/node'
 * import { privateKeyToAccount } from 'viem/accounts'
 *
 * const account = privateKeyToAccount(process.env.PAYER_KEY as `0x${string}`)
 * const sessions = await fileSessions('./payfetch-sessions.json')
 * const { returned } = await refundChannel({ account, sessions, url: 'https://api.example.com/weather' })
 * ```
 *
 * @throws {PayfetchError} `CHALLENGE_INVALID` when the URL offers no channel payfetch can pay;
 * `INVALID_OPTIONS` when this payer has nothing left in it; `PAYMENT_REJECTED` when the server
 * refuses; `CHANNEL_INVALID` when its answer contradicts the channel.
 */
export async function refundChannel(options: RefundChannelOptions): Promise<ChannelRefund> {
  const signer = toTypedDataSigner(options.account)
  if (!signer) throw new PayfetchError('INVALID_OPTIONS', 'refundChannel() needs an account that signs typed data.')
  const send = options.fetch ?? globalThis.fetch
  const { url, sessions } = options
  const probe = await send(url, { redirect: 'manual' })
  await probe.body?.cancel().catch(() => {})
  const challenge = { url, headers: probe.headers, body: undefined }
  const offer =
    probe.status === 402
      ? x402Batch.decode(challenge).find((found) => found.method?.kind === 'batch-settlement')
      : undefined
  const request = offer?.method
  if (!offer || request?.kind !== 'batch-settlement')
    throw new PayfetchError('CHALLENGE_INVALID', 'The URL offers no batch-settlement channel to refund.', {
      details: { url, status: probe.status },
    })
  const channels = batchChannels(signer.address, options.channels)
  const report = (event: unknown) => options.onEvent?.(event as ChannelReport)
  const turn = await channels.refund(request, { url, sessions, report }, options.amount)
  try {
    for (let tries = 0; tries < 2; tries++) {
      const proof = await signBatchTurn(signer, turn.request, Math.floor(Date.now() / 1000))
      await turn.signed(proof)
      const headers = x402Batch.proofHeaders(offer, proof, {
        idempotencyKey: `pf_${crypto.randomUUID().replaceAll('-', '')}`,
      })
      const response = await send(url, { headers, redirect: 'manual' })
      await response.body?.cancel().catch(() => {})
      const refused = response.status === 402
      const answer = { url, headers: response.headers, body: undefined }
      const settlement = x402Batch.settlement?.(response)
      const outcome = await turn.answered({
        refused: refused || settlement?.success === false,
        report: settlement,
        reason: x402Batch.refusalReason(answer),
        offered: refused
          ? x402Batch.decode(answer).find((found) => found.method?.kind === 'batch-settlement')?.method
          : undefined,
      })
      if (outcome.kind === 'charged')
        return { channelId: proof.voucher.channelId, returned: outcome.charged, transaction: settlement?.reference }
      if (outcome.kind === 'invalid') throw outcome.error
      if (outcome.kind !== 'resync') {
        const reason = x402Batch.refusalReason(answer)
        throw new PayfetchError(
          'PAYMENT_REJECTED',
          `The server refused the channel refund${reason ? `: ${reason}` : ''}.`,
          {
            details: { url, reason, status: response.status },
          },
        )
      }
    }
    throw new PayfetchError('PAYMENT_REJECTED', 'The server refused the channel refund after a resync.', {
      details: { url },
    })
  } finally {
    await turn.end()
  }
}
