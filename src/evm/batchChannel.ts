import { getAddress, type Hex } from 'viem'
import { PayfetchError } from '../errors/PayfetchError.js'
import type { BatchSettlementRequest } from '../methods/BatchSettlement.js'
import type { PaymentMethod } from '../methods/PaymentMethod.js'
import type { ChannelRecord, SessionLock, SessionStore } from '../sessions/SessionStore.js'
import type { ChannelContext, ChannelOutcome, ChannelPayer, ChannelReport, ChannelTurn } from '../signers/Signer.js'
import { channelConfigOf, channelIdOf, isPayerVoucher } from './batchSignatures.js'

/** How `evm()` sizes and keeps x402 `batch-settlement` channels. */
export type ChannelOptions = {
  /**
   * A new deposit is this many times the call's price (at least the server's `minDeposit` and what
   * the voucher needs). Default 10; at most 100. Budgets count the whole deposit when it is made.
   */
  depositMultiplier?: number | undefined
  /** The largest deposit ever signed, in the token's atomic units; a channel needing more is refused. */
  maxDeposit?: bigint | undefined
  /** The channel salt (32 bytes hex), to open a channel other than the default one. Default: zero. */
  salt?: `0x${string}` | undefined
  /** How long a call waits for another call or process that holds the same channel, in ms. Default 15 000. */
  waitMs?: number | undefined
}

const zeroSalt = `0x${'0'.repeat(64)}` as const
const lockTtlMs = 30_000
const mismatch = /_cumulative_(amount_mismatch|below_claimed)$/

/** The sessions key of a channel: never an origin, one per payer and receiver of an origin's token. */
export function channelKey(url: string, request: BatchSettlementRequest, payer: string): string {
  const parts = [new URL(url).origin, `eip155:${request.chainId}`, request.token, request.receiver, payer]
  return `x402-channel:${parts.map((part) => part.toLowerCase()).join('|')}`
}

/** Channels as `evm()` hands them to payfetch, plus the cooperative refund `refundChannel` takes. */
export type BatchChannels = ChannelPayer<'batch-settlement'> & {
  /** Takes the channel to close it: a voucher at exactly what was charged, and the refund's amount (all if absent). */
  refund(
    request: BatchSettlementRequest,
    context: ChannelContext,
    amount?: bigint,
  ): Promise<ChannelTurn<'batch-settlement'>>
}

/** Reads, sizes and keeps channels in the sessions for one payer; what `evm()` hands payfetch. */
export function batchChannels(payerAddress: string, options: ChannelOptions = {}): BatchChannels {
  const multiplier = BigInt(options.depositMultiplier ?? 10)
  const payer = getAddress(payerAddress)
  const salt = options.salt ?? zeroSalt

  /** The deposit a voucher up to `cumulative` needs first, sized by the options; `undefined`: none. */
  function depositFor(request: BatchSettlementRequest, cumulative: bigint, deposited: bigint): bigint | undefined {
    if (cumulative <= deposited) return undefined
    const needed = cumulative - deposited
    let deposit = multiplier * request.amount
    if (request.minDeposit !== undefined && request.minDeposit > deposit) deposit = request.minDeposit
    if (needed > deposit) deposit = needed
    const max = options.maxDeposit
    if (max !== undefined && deposit > max) {
      if (needed > max || (request.minDeposit ?? 0n) > max)
        throw new PayfetchError(
          'CAP_EXCEEDED',
          `The channel needs a deposit of ${deposit} but batchSettlement({ maxDeposit }) allows ${max}.`,
          { details: { network: `eip155:${request.chainId}`, asset: request.token, deposit: deposit.toString() } },
        )
      deposit = max
    }
    return deposit
  }

  async function read(sessions: SessionStore, key: string): Promise<ChannelRecord | undefined> {
    const token = await sessions.get(key)
    return token?.protocol === 'x402-channel' ? token.channel : undefined
  }

  return {
    async peek(request, { url, sessions }) {
      const record = await read(sessions, channelKey(url, request, payer))
      const cumulative = BigInt(record?.charged ?? '0') + request.amount
      return depositFor(request, cumulative, BigInt(record?.deposited ?? '0')) ?? 0n
    },

    take: (request, context) => taken(request, context),
    refund: (request, context, amount) => taken(request, context, { amount }),
  }

  async function taken(
    request: BatchSettlementRequest,
    context: ChannelContext,
    refund?: { amount?: bigint | undefined },
  ): Promise<ChannelTurn<'batch-settlement'>> {
    const key = channelKey(context.url, request, payer)
    const lock = await hold(context, key, options.waitMs ?? 15_000)
    const stopRenewing = renewing(lock)
    const end = async () => {
      stopRenewing()
      await lock?.release().catch(() => {})
    }
    try {
      return await turnOf(request, context, key, end, refund)
    } catch (error) {
      await end()
      throw error
    }
  }

  async function turnOf(
    offered: BatchSettlementRequest,
    context: ChannelContext,
    key: string,
    end: () => Promise<void>,
    refund?: { amount?: bigint | undefined },
  ): Promise<ChannelTurn<'batch-settlement'>> {
    const { sessions, url } = context
    let record = await read(sessions, key)
    const channelSalt = (record?.salt ?? salt) as Hex
    const channelId = channelIdOf(channelConfigOf(payer, offered, channelSalt), offered.chainId)
    const network = `eip155:${offered.chainId}`
    const invalid = (reason: string, details: Record<string, unknown> = {}) =>
      new PayfetchError('CHANNEL_INVALID', `The payment channel cannot be used: ${reason}. Refund it.`, {
        details: { url, network, asset: offered.token, channelId, reason, ...details },
      })
    if (record?.unusable) throw invalid(record.unusable)
    if (refund && (!record || BigInt(record.deposited) <= BigInt(record.charged)))
      throw new PayfetchError(
        'INVALID_OPTIONS',
        'This payer has no channel with money left to refund at this server.',
        {
          details: { url, network, asset: offered.token, channelId },
        },
      )
    if (record && record.channelId.toLowerCase() !== channelId.toLowerCase())
      throw invalid('the server changed the channel terms (receiver authorizer or withdraw delay)')

    // A voucher whose answer never came may have been charged: build on it, never sign its total again.
    const baseOf = (kept: ChannelRecord | undefined) =>
      kept?.open ? BigInt(kept.signed) : BigInt(kept?.charged ?? '0')
    const resolve = (kept: ChannelRecord | undefined): BatchSettlementRequest => {
      // A refund's voucher closes the channel at exactly what was charged.
      if (refund)
        return { ...offered, serverState: undefined, turn: { salt: channelSalt, cumulative: baseOf(kept), refund } }
      const cumulative = baseOf(kept) + offered.amount
      const deposit = depositFor(offered, cumulative, BigInt(kept?.deposited ?? '0'))
      return { ...offered, serverState: undefined, turn: { salt: channelSalt, cumulative, deposit } }
    }
    const save = async (next: ChannelRecord) => {
      record = next
      await sessions.set(key, { protocol: 'x402-channel', headers: {}, channel: next })
    }
    const report = (type: ChannelReport['type'], amount: bigint, extra: Partial<ChannelReport> = {}) =>
      context.report?.({ type, url, network, token: offered.token, channelId, amount, ...extra })
    const setAside = async (error: PayfetchError, charged: bigint): Promise<ChannelOutcome<'batch-settlement'>> => {
      const reason = String(error.details.reason)
      if (record) await save({ ...record, unusable: reason }).catch(() => {})
      report('channel.unusable', 0n, { detail: reason })
      return { kind: 'invalid', error, charged }
    }

    let request = resolve(record)
    let resynced = false
    return {
      get request() {
        return request
      },
      get deposit() {
        return request.turn?.deposit ?? 0n
      },
      async signed() {
        const turn = request.turn as NonNullable<BatchSettlementRequest['turn']>
        const signed = record && BigInt(record.signed) > turn.cumulative ? BigInt(record.signed) : turn.cumulative
        await save({
          channelId,
          payer,
          salt: channelSalt,
          deposited: record?.deposited ?? '0',
          charged: record?.charged ?? '0',
          ...record,
          signed: signed.toString(),
          open: true,
        })
      },
      async answered(answer) {
        const turn = request.turn as NonNullable<BatchSettlementRequest['turn']>
        const kept = record as ChannelRecord
        const base = turn.cumulative - (refund ? 0n : offered.amount)
        if (refund && !answer.refused) {
          // What came back: the server's report, else the whole rest (or the amount asked).
          const rest = BigInt(kept.deposited) - BigInt(kept.charged)
          const returned = answer.report?.amount ?? refund.amount ?? rest
          if (returned > rest) return setAside(invalid('the server reported a refund above what was left'), 0n)
          // Kept even when drained: the server remembers what was charged, so a channel opened
          // again must go on from that total (a voucher below it is refused).
          await save({ ...kept, deposited: (BigInt(kept.deposited) - returned).toString(), open: false })
          report('channel.refund', returned, { cumulative: BigInt(kept.charged), detail: answer.report?.reference })
          return { kind: 'charged', charged: returned }
        }
        if (!answer.refused) {
          const channel = answer.report?.channel
          // A success without a charge report counts the whole price: the server holds a voucher for it.
          const charged = channel?.charged ?? offered.amount
          if (charged > offered.amount)
            return setAside(
              invalid('the server reported a charge above the price', { charged: charged.toString() }),
              offered.amount,
            )
          if (channel?.id !== undefined && channel.id.toLowerCase() !== channelId.toLowerCase())
            return setAside(
              invalid('the server answered for another channel', { answered: channel.id }),
              offered.amount,
            )
          if (channel?.cumulative !== undefined && channel.cumulative !== base + charged)
            return setAside(
              invalid('the server reported a total that does not add up', {
                cumulative: channel.cumulative.toString(),
                expected: (base + charged).toString(),
              }),
              offered.amount,
            )
          const deposited = BigInt(kept.deposited) + (turn.deposit ?? 0n)
          await save({ ...kept, deposited: deposited.toString(), charged: (base + charged).toString(), open: false })
          if (turn.deposit !== undefined) report('channel.deposit', turn.deposit, { cumulative: deposited })
          report('channel.voucher', charged, { cumulative: base + charged })
          return { kind: 'charged', charged }
        }
        await save({ ...kept, open: false })
        if (answer.reason?.endsWith('_channel_busy')) return { kind: 'busy' }
        const state = answer.offered?.kind === 'batch-settlement' ? answer.offered.serverState : undefined
        if (!answer.reason || !mismatch.test(answer.reason) || !state || resynced) return { kind: 'refused' }
        // Corrective 402: the server's record is believed only with this payer's own voucher for this channel.
        const genuine =
          (state.channelId === undefined || state.channelId.toLowerCase() === channelId.toLowerCase()) &&
          state.chargedCumulative <= state.signedMaxClaimable &&
          state.signedMaxClaimable <= BigInt(kept.signed) &&
          (await isPayerVoucher(payer, offered.chainId, channelId, state.signedMaxClaimable, state.signature))
        if (!genuine) return setAside(invalid('the server sent a channel state this payer never signed'), 0n)
        resynced = true
        await save({ ...kept, charged: state.chargedCumulative.toString(), open: false })
        request = resolve(record)
        return { kind: 'resync', request: request as PaymentMethod<'batch-settlement'> }
      },
      end,
    }
  }
}

/** Takes the channel's lock, waiting for another holder up to `waitMs`. A store without locks is not shared. */
async function hold(context: ChannelContext, key: string, waitMs: number): Promise<SessionLock | undefined> {
  const { sessions, signal } = context
  if (!sessions.lock) return undefined
  const until = Date.now() + waitMs
  for (let pause = 25; ; pause = Math.min(pause * 2, 500)) {
    const lock = await sessions.lock(`${key}#lock`, lockTtlMs)
    if (lock) return lock
    if (Date.now() + pause > until)
      throw new PayfetchError(
        'PAYMENT_IN_PROGRESS',
        'Another call or process is paying through this payment channel; try again when it is done.',
        { details: { url: context.url } },
      )
    await new Promise((resolve) => setTimeout(resolve, pause))
    signal?.throwIfAborted()
  }
}

// A call may take longer than the lock's TTL (a slow server): it keeps the lock while it works.
function renewing(lock: SessionLock | undefined): () => void {
  if (!lock) return () => {}
  const timer = setInterval(() => void lock.renew().catch(() => {}), lockTtlMs / 3)
  ;(timer as { unref?: () => void }).unref?.()
  return () => clearInterval(timer)
}
