import { homedir } from 'node:os'
import { join } from 'node:path'
import { type ConfirmMode, parseConfirmMode } from 'payfetch/tools'

/** A setting that cannot be used; the message names the variable and never shows its value. */
export class SettingsError extends Error {
  override name = 'SettingsError'
}

/** Everything the CLI reads from the environment, checked. Secrets stay as given, never logged. */
export type Settings = {
  readonly evmPrivateKey?: `0x${string}` | undefined
  readonly evmNetworks?: readonly string[] | undefined
  /** One EVM chain's JSON-RPC: with it the key also pays through Permit2 on that chain. */
  readonly evmRpcUrl?: string | undefined
  /** x402 `batch-settlement` channels (`PAYFETCH_EVM_CHANNELS=on`): deposit once, then vouchers. */
  readonly evmChannels?: ChannelSettings | undefined
  readonly solanaSecretKey?: string | undefined
  readonly solanaRpcUrl: string
  readonly solanaNetworks?: readonly string[] | undefined
  readonly lightning?: LightningSettings | undefined
  readonly lightningNetworks?: readonly string[] | undefined
  readonly maxUsd?: string | undefined
  readonly maxSats?: number | undefined
  readonly budgetUsd?: string | undefined
  readonly budgetWindow: string
  readonly allowHosts?: readonly string[] | undefined
  readonly stateDir: string
  readonly redisUrl?: string | undefined
  readonly confirm: ConfirmMode
  readonly servicesFile?: string | undefined
  /** An x402 discovery service (`bazaar`) whose HTTP resources join the service catalog. */
  readonly discoveryUrl?: string | undefined
  readonly prefer?: readonly string[] | undefined
}

/** How channels are sized; absent fields take `batchSettlement()`'s defaults. */
export type ChannelSettings = {
  /** The largest deposit ever signed, in the token's atomic units. */
  readonly maxDeposit?: bigint | undefined
  /** A new deposit is this many times the call's price (1 to 100). */
  readonly depositMultiplier?: number | undefined
}

export type LightningSettings =
  | { readonly kind: 'nwc'; readonly url: string }
  | { readonly kind: 'lnd'; readonly url: string; readonly macaroon: string }
  | { readonly kind: 'cln'; readonly url: string; readonly rune: string }
  | { readonly kind: 'lnbits'; readonly url: string; readonly adminKey: string }

const decimal = /^[0-9]{1,30}(?:\.[0-9]{1,30})?$/
const solanaMainnetRpc = 'https://api.mainnet-beta.solana.com'

/**
 * Reads the `PAYFETCH_*` variables.
 *
 * @throws {SettingsError} naming the first variable that is malformed or missing its partner.
 */
export function readSettings(env: Readonly<Record<string, string | undefined>>): Settings {
  const get = (name: string) => {
    const value = env[name]?.trim()
    return value === undefined || value === '' ? undefined : value
  }
  const list = (name: string) =>
    get(name)
      ?.split(',')
      .map((item) => item.trim())
      .filter(Boolean)

  const evmPrivateKey = get('PAYFETCH_EVM_PRIVATE_KEY')
  if (evmPrivateKey !== undefined && !/^0x[0-9a-fA-F]{64}$/.test(evmPrivateKey))
    throw new SettingsError('PAYFETCH_EVM_PRIVATE_KEY must be 0x followed by 64 hex digits.')

  const evmChannels = readChannels(get, evmPrivateKey !== undefined)
  const evmRpcUrl = get('PAYFETCH_EVM_RPC_URL')
  if (evmRpcUrl !== undefined && !/^https?:\/\//.test(evmRpcUrl))
    throw new SettingsError('PAYFETCH_EVM_RPC_URL must be an http(s) URL.')
  if (evmRpcUrl !== undefined && evmPrivateKey === undefined)
    throw new SettingsError('PAYFETCH_EVM_RPC_URL is set but PAYFETCH_EVM_PRIVATE_KEY is missing.')

  const maxUsd = get('PAYFETCH_MAX_USD')
  if (maxUsd !== undefined && !decimal.test(maxUsd))
    throw new SettingsError("PAYFETCH_MAX_USD must be a decimal amount of dollars, like '0.50'.")
  const maxSatsText = get('PAYFETCH_MAX_SATS')
  if (maxSatsText !== undefined && !/^[0-9]{1,15}$/.test(maxSatsText))
    throw new SettingsError('PAYFETCH_MAX_SATS must be a whole number of satoshis.')
  const budgetUsd = get('PAYFETCH_BUDGET_USD')
  if (budgetUsd !== undefined && !decimal.test(budgetUsd))
    throw new SettingsError("PAYFETCH_BUDGET_USD must be a decimal amount of dollars, like '5'.")
  const budgetWindow = get('PAYFETCH_BUDGET_WINDOW') ?? '1d'
  if (!/^(?:[0-9]+(?:s|m|h|d|w)|total)$/.test(budgetWindow))
    throw new SettingsError("PAYFETCH_BUDGET_WINDOW must be like '1h', '1d', '30d', or 'total'.")

  const confirmText = get('PAYFETCH_CONFIRM') ?? 'auto'
  const confirm = parseConfirmMode(confirmText)
  if (!confirm) throw new SettingsError("PAYFETCH_CONFIRM must be 'auto', 'always', 'never' or 'above:<usd>'.")

  const prefer = list('PAYFETCH_PREFER')
  if (prefer?.some((protocol) => !['l402', 'x402', 'payment'].includes(protocol)))
    throw new SettingsError("PAYFETCH_PREFER must list protocols among 'l402', 'x402', 'payment'.")

  const solanaRpcUrl = get('PAYFETCH_SOLANA_RPC_URL') ?? solanaMainnetRpc
  if (!/^https?:\/\//.test(solanaRpcUrl)) throw new SettingsError('PAYFETCH_SOLANA_RPC_URL must be an http(s) URL.')
  const discoveryUrl = get('PAYFETCH_DISCOVERY_URL')
  if (discoveryUrl !== undefined && !/^https?:\/\//.test(discoveryUrl))
    throw new SettingsError('PAYFETCH_DISCOVERY_URL must be an http(s) URL.')
  const redisUrl = get('PAYFETCH_REDIS_URL')
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl))
    throw new SettingsError('PAYFETCH_REDIS_URL must be a redis:// or rediss:// URL.')

  return {
    evmPrivateKey: evmPrivateKey as `0x${string}` | undefined,
    evmNetworks: list('PAYFETCH_EVM_NETWORKS'),
    evmRpcUrl,
    evmChannels,
    solanaSecretKey: get('PAYFETCH_SOLANA_SECRET_KEY'),
    solanaRpcUrl,
    solanaNetworks: list('PAYFETCH_SOLANA_NETWORKS'),
    lightning: readLightning(get),
    lightningNetworks: list('PAYFETCH_LIGHTNING_NETWORKS'),
    maxUsd,
    maxSats: maxSatsText === undefined ? undefined : Number(maxSatsText),
    budgetUsd,
    budgetWindow,
    allowHosts: list('PAYFETCH_ALLOW_HOSTS'),
    stateDir:
      get('PAYFETCH_STATE_DIR') ??
      join(get('XDG_STATE_HOME') ?? join(get('HOME') ?? homedir(), '.local', 'state'), 'payfetch'),
    redisUrl,
    confirm,
    servicesFile: get('PAYFETCH_SERVICES'),
    discoveryUrl,
    prefer,
  }
}

function readChannels(get: (name: string) => string | undefined, hasKey: boolean): ChannelSettings | undefined {
  const switched = get('PAYFETCH_EVM_CHANNELS') ?? 'off'
  if (switched !== 'on' && switched !== 'off') throw new SettingsError("PAYFETCH_EVM_CHANNELS must be 'on' or 'off'.")
  const maxDepositText = get('PAYFETCH_EVM_CHANNEL_MAX_DEPOSIT')
  const multiplierText = get('PAYFETCH_EVM_CHANNEL_MULTIPLIER')
  if (maxDepositText !== undefined && !/^[0-9]{1,39}$/.test(maxDepositText))
    throw new SettingsError('PAYFETCH_EVM_CHANNEL_MAX_DEPOSIT must be a whole number of atomic units.')
  if (maxDepositText !== undefined && BigInt(maxDepositText) === 0n)
    throw new SettingsError('PAYFETCH_EVM_CHANNEL_MAX_DEPOSIT must be above 0.')
  if (
    multiplierText !== undefined &&
    !(/^[0-9]{1,3}$/.test(multiplierText) && +multiplierText >= 1 && +multiplierText <= 100)
  )
    throw new SettingsError('PAYFETCH_EVM_CHANNEL_MULTIPLIER must be a whole number from 1 to 100.')
  if (switched === 'off') {
    // A channel limit without channels would look like a limit that holds: say it does nothing.
    const stray =
      maxDepositText !== undefined
        ? 'PAYFETCH_EVM_CHANNEL_MAX_DEPOSIT'
        : multiplierText !== undefined
          ? 'PAYFETCH_EVM_CHANNEL_MULTIPLIER'
          : undefined
    if (stray) throw new SettingsError(`${stray} is set but PAYFETCH_EVM_CHANNELS is not 'on'.`)
    return undefined
  }
  if (!hasKey) throw new SettingsError('PAYFETCH_EVM_CHANNELS is on but PAYFETCH_EVM_PRIVATE_KEY is missing.')
  return {
    ...(maxDepositText === undefined ? {} : { maxDeposit: BigInt(maxDepositText) }),
    ...(multiplierText === undefined ? {} : { depositMultiplier: Number(multiplierText) }),
  }
}

function readLightning(get: (name: string) => string | undefined): LightningSettings | undefined {
  const pair = (urlName: string, secretName: string) => {
    const url = get(urlName)
    const secret = get(secretName)
    if (url === undefined && secret === undefined) return undefined
    if (url === undefined) throw new SettingsError(`${secretName} is set but ${urlName} is missing.`)
    if (secret === undefined) throw new SettingsError(`${urlName} is set but ${secretName} is missing.`)
    if (!/^https?:\/\//.test(url)) throw new SettingsError(`${urlName} must be an http(s) URL.`)
    return { url, secret }
  }
  const nwc = get('PAYFETCH_NWC_URL')
  if (nwc !== undefined && !/^nostr\+walletconnect:\/\//.test(nwc))
    throw new SettingsError('PAYFETCH_NWC_URL must be a nostr+walletconnect:// connection string.')
  const lnd = pair('PAYFETCH_LND_URL', 'PAYFETCH_LND_MACAROON')
  const cln = pair('PAYFETCH_CLN_URL', 'PAYFETCH_CLN_RUNE')
  const lnbits = pair('PAYFETCH_LNBITS_URL', 'PAYFETCH_LNBITS_ADMIN_KEY')
  const chosen = [
    nwc && ({ kind: 'nwc', url: nwc } as const),
    lnd && ({ kind: 'lnd', url: lnd.url, macaroon: lnd.secret } as const),
    cln && ({ kind: 'cln', url: cln.url, rune: cln.secret } as const),
    lnbits && ({ kind: 'lnbits', url: lnbits.url, adminKey: lnbits.secret } as const),
  ].filter((entry): entry is LightningSettings => Boolean(entry))
  if (chosen.length > 1)
    throw new SettingsError(
      'Set one Lightning wallet: PAYFETCH_NWC_URL, PAYFETCH_LND_URL, PAYFETCH_CLN_URL or PAYFETCH_LNBITS_URL.',
    )
  return chosen[0]
}
