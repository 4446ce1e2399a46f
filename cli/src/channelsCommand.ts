import type { PayingSetup } from './payingOptions.js'

/** One x402 `batch-settlement` channel as `payfetch channels` lists it. Amounts are atomic units. */
export type ChannelLine = {
  /** The origin paid through the channel. */
  readonly server: string
  readonly network: string
  readonly asset: string
  readonly receiver: string
  readonly payer: string
  readonly channel_id: string
  readonly deposited: string
  /** What the server has charged, as checked from its answers. */
  readonly charged: string
  /** Deposited minus charged: what a refund would return, as far as this payer knows. */
  readonly balance: string
  /** A voucher was signed whose answer never came: the server may have charged up to `signed`. */
  readonly unanswered_voucher?: { readonly signed: string } | undefined
  /** Why payfetch set the channel aside (refund it). */
  readonly unusable?: string | undefined
}

// The sessions key `batchChannel.ts` writes: `x402-channel:` then origin|network|token|receiver|payer.
const prefix = 'x402-channel:'

/** `payfetch channels`: the channels kept in the sessions store, read without a network call. */
export async function listChannels(setup: Pick<PayingSetup, 'sessionsStartingWith'>): Promise<ChannelLine[]> {
  const lines: ChannelLine[] = []
  for (const [key, token] of await setup.sessionsStartingWith(prefix)) {
    const channel = token.channel
    const [server, network, asset, receiver, payer] = key.slice(prefix.length).split('|')
    if (!channel || !server || !network || !asset || !receiver || !payer) continue
    const deposited = BigInt(channel.deposited)
    const charged = BigInt(channel.charged)
    // Refunded to the last unit: kept only for its charged total, nothing to list.
    if (deposited === charged && !channel.open && !channel.unusable) continue
    lines.push({
      server,
      network,
      asset,
      receiver,
      payer: channel.payer,
      channel_id: channel.channelId,
      deposited: channel.deposited,
      charged: channel.charged,
      balance: (deposited - charged).toString(),
      ...(channel.open ? { unanswered_voucher: { signed: channel.signed } } : {}),
      ...(channel.unusable ? { unusable: channel.unusable } : {}),
    })
  }
  return lines
}
