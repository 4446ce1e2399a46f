import { parseArgs } from 'node:util'
import type { SessionStore } from 'payfetch'
import type { EvmAccount } from 'payfetch/evm'
import { toToolFailure } from 'payfetch/tools'
import { exitCodes } from './exitCodes.js'
import { type Io, UsageError } from './fetchCommand.js'
import { printable } from './printable.js'
import type { ChannelSettings } from './settings.js'
import { SettingsError } from './settings.js'

export const refundFlags = { amount: { type: 'string' }, silent: { type: 'boolean', short: 's' } } as const

/**
 * `payfetch refund <url> [--amount <atomic>]`: closes this payer's channel with that server
 * cooperatively; the rest of the deposit (or `--amount`) comes back on chain. A refund only ever
 * returns money, so every failure is "failed" (exit 4): nothing left the payer.
 */
export async function refundCommand(
  argv: readonly string[],
  setup: { evmAccount?: EvmAccount | undefined; sessions: SessionStore; channels?: ChannelSettings | undefined },
  io: Io,
): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...argv], options: refundFlags, allowPositionals: true })
  const url = positionals[0]
  if (!url || positionals.length > 1) throw new UsageError('payfetch refund needs exactly one URL of the server.')
  if (!/^https?:\/\//.test(url)) throw new UsageError('The URL must start with http:// or https://.')
  if (values.amount !== undefined && !(/^[0-9]{1,39}$/.test(values.amount) && BigInt(values.amount) > 0n))
    throw new UsageError('--amount must be a whole number of atomic units above 0.')
  const account = setup.evmAccount
  if (!account) throw new SettingsError('payfetch refund needs PAYFETCH_EVM_PRIVATE_KEY (the channel’s payer).')
  const { refundChannel } = await import('payfetch/evm')
  try {
    const refund = await refundChannel({
      account,
      url,
      sessions: setup.sessions,
      ...(values.amount === undefined ? {} : { amount: BigInt(values.amount) }),
      ...(setup.channels ? { channels: setup.channels } : {}),
    })
    if (!values.silent)
      io.stderr.write(
        `payfetch: ${printable(`channel ${refund.channelId} refunded ${refund.returned} atomic units${refund.transaction ? `; transaction ${refund.transaction}` : ''}`)}\n`,
      )
    io.stdout.write(
      `${JSON.stringify({ channel_id: refund.channelId, returned: refund.returned.toString(), ...(refund.transaction ? { transaction: refund.transaction } : {}) }, null, 2)}\n`,
    )
    return exitCodes.ok
  } catch (error) {
    const failure = toToolFailure(error, false)
    io.stderr.write(`payfetch: ${printable(`${failure.code}: ${failure.message}`)}\n`)
    return exitCodes.failed
  }
}
