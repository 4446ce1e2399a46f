import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  type Budget,
  type Caps,
  isPayfetchError,
  type Ledger,
  type PayingFetchOptions,
  type SessionStore,
  type SessionToken,
  type Signer,
} from 'payfetch'
import type { EvmAccount, EvmChainReader } from 'payfetch/evm'
import { fileLedger, fileSessions } from 'payfetch/node'
import { parseServiceCatalog, type ServiceEntry } from 'payfetch/tools'
import { type Settings, SettingsError } from './settings.js'

/** What the CLI pays with, and how to let go of it (Redis connections). */
export type PayingSetup = {
  readonly options: PayingFetchOptions
  readonly services: ServiceEntry[]
  /** Signer names, for the start-up line. */
  readonly signers: readonly string[]
  /** The store in `options.sessions` (files in the state dir, or Redis). */
  readonly sessions: SessionStore
  /** The EVM account (`PAYFETCH_EVM_PRIVATE_KEY`), for a channel refund. */
  readonly evmAccount?: EvmAccount | undefined
  /** Every stored session whose key starts with `prefix` (a `SessionStore` cannot list: read where it keeps them). */
  sessionsStartingWith(prefix: string): Promise<[string, SessionToken][]>
  close(): Promise<void>
}

// Chain and wallet libraries load only when their key is set: start-up is what an MCP host waits for.

/**
 * Turns the settings into paying-fetch options: signers from the keys, caps, and a durable ledger
 * and session store (files in the state dir, or Redis for a fleet).
 *
 * @throws {SettingsError} naming the variable whose value cannot be used.
 */
export async function payingSetup(settings: Settings): Promise<PayingSetup> {
  const signers: Signer[] = []
  let evmAccount: EvmAccount | undefined
  if (settings.evmPrivateKey) {
    const { batchSettlement, evm, privateKeyAccount } = await import('payfetch/evm')
    // payfetch's own key account: it hashes the typed data itself (0.1 to 0.3 ms less per payment).
    // It signs no transactions; viem's signer, loaded when first needed, signs the approve a server
    // offers to fund and broadcast (a Permit2 offer's erc20ApprovalGasSponsoring).
    const privateKey = settings.evmPrivateKey
    let account: EvmAccount
    try {
      account = {
        ...privateKeyAccount(privateKey),
        signTransaction: async (transaction) =>
          (await import('viem/accounts')).signTransaction({ privateKey, transaction }),
      }
    } catch {
      throw new SettingsError('PAYFETCH_EVM_PRIVATE_KEY is not a valid secp256k1 private key.')
    }
    evmAccount = account
    signers.push(
      evm({
        account,
        ...(settings.evmRpcUrl ? { publicClient: await chainReader(settings.evmRpcUrl) } : {}),
        ...(settings.evmNetworks ? { networks: settings.evmNetworks } : {}),
        ...(settings.evmChannels ? { batchSettlement: batchSettlement(settings.evmChannels) } : {}),
      }),
    )
  }
  if (settings.solanaSecretKey) {
    const [{ createKeyPairSignerFromBytes, getBase58Encoder }, { solana }] = await Promise.all([
      import('@solana/kit'),
      import('payfetch/solana'),
    ])
    const bytes = solanaKeyBytes(settings.solanaSecretKey, (text) => getBase58Encoder().encode(text))
    const signer = await createKeyPairSignerFromBytes(bytes).catch(() => {
      throw new SettingsError('PAYFETCH_SOLANA_SECRET_KEY is not a valid Solana keypair (64 bytes).')
    })
    signers.push(
      solana({
        signer,
        rpc: settings.solanaRpcUrl,
        ...(settings.solanaNetworks ? { networks: settings.solanaNetworks } : {}),
      }),
    )
  }
  if (settings.lightning) {
    const { coreLightning, lightning, lnbits, lnd, nwc } = await import('payfetch/lightning')
    const WebSocket = settings.lightning.kind === 'nwc' ? (await import('ws')).default : undefined
    const wallet = (() => {
      const config = settings.lightning
      switch (config.kind) {
        case 'nwc':
          return nwc(config.url, { WebSocket: WebSocket as never })
        case 'lnd':
          return lnd({ url: config.url, macaroon: config.macaroon })
        case 'cln':
          return coreLightning({ url: config.url, rune: config.rune })
        case 'lnbits':
          return lnbits({ url: config.url, adminKey: config.adminKey })
      }
    })()
    signers.push(lightning({ wallet, ...(settings.lightningNetworks ? { networks: settings.lightningNetworks } : {}) }))
  }

  const budgets: Budget[] = settings.budgetUsd
    ? [{ usd: settings.budgetUsd, ...(settings.budgetWindow === 'total' ? {} : { window: settings.budgetWindow }) }]
    : []
  const caps: Caps = {
    perRequest: {
      ...(settings.maxUsd === undefined ? {} : { usd: settings.maxUsd }),
      ...(settings.maxSats === undefined ? {} : { sats: settings.maxSats }),
    },
    ...(budgets.length > 0 ? { budgets } : {}),
    ...(settings.allowHosts ? { hosts: { allow: settings.allowHosts } } : {}),
  }

  let ledger: Ledger
  let sessions: SessionStore
  let close = async () => {}
  let sessionsStartingWith: PayingSetup['sessionsStartingWith']
  if (settings.redisUrl) {
    const [{ Redis }, { redisLedger, redisSessions }] = await Promise.all([import('ioredis'), import('payfetch/redis')])
    // Every wait on Redis is bounded: a server that accepts and never answers fails each command
    // after commandTimeout (a payment then ends STORE_FAILED, or keeps its answer and reports it).
    const redis = new Redis(settings.redisUrl, {
      lazyConnect: true,
      maxRetriesPerRequest: 2,
      connectTimeout: redisTimeoutMs,
      commandTimeout: redisTimeoutMs,
    })
    // Failures reach the command that met them; ioredis would print each one with a stack trace.
    redis.on('error', () => {})
    await bounded(redis.connect(), redisTimeoutMs).catch(() => {
      // Or it would keep reconnecting, and the process never ends.
      redis.disconnect()
      throw new SettingsError(
        `PAYFETCH_REDIS_URL: Redis could not be reached (or did not answer within ${redisTimeoutMs / 1000} s).`,
      )
    })
    ledger = redisLedger({ redis })
    sessions = redisSessions({ redis })
    sessionsStartingWith = async (prefix) => {
      // redisSessions' default key prefix; SCAN walks the keyspace without blocking the server.
      const namespace = 'payfetch:session:'
      const pattern = `${`${namespace}${prefix}`.replace(/[*?[\]\\]/g, '\\$&')}*`
      const found: [string, SessionToken][] = []
      let cursor = '0'
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 200)
        cursor = next
        for (const key of keys) {
          const token = await sessions.get(key.slice(namespace.length))
          if (token) found.push([key.slice(namespace.length), token])
        }
      } while (cursor !== '0')
      return found
    }
    close = async () => {
      redis.disconnect()
    }
  } else {
    // The stores make the directory (private to the user). One that cannot be opened is a setting
    // to fix, named as such: nothing was sent yet.
    const unusable = (error: unknown): never => {
      const reason = isPayfetchError(error) ? error.message : `${(error as NodeJS.ErrnoException).code ?? 'error'}`
      throw new SettingsError(`PAYFETCH_STATE_DIR cannot be used: ${reason}`)
    }
    const journal = await fileLedger(join(settings.stateDir, 'ledger.jsonl')).catch(unusable)
    ledger = journal
    const sessionsFile = join(settings.stateDir, 'sessions.json')
    sessions = await fileSessions(sessionsFile).catch(async (error: unknown) => {
      await journal.close()
      return unusable(error)
    })
    sessionsStartingWith = async (prefix) => {
      // fileSessions keeps one JSON object of key → token; a missing file holds none.
      const text = await readFile(sessionsFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return '{}'
        throw error
      })
      return Object.entries(JSON.parse(text) as Record<string, SessionToken>).filter(([key]) => key.startsWith(prefix))
    }
    close = () => journal.close()
  }

  return {
    options: {
      signers,
      caps,
      ledger,
      sessions,
      ...(settings.prefer ? { prefer: settings.prefer } : {}),
    },
    services: settings.servicesFile ? await readServices(settings.servicesFile) : [],
    signers: signers.map((signer) => signer.name),
    sessions,
    evmAccount,
    sessionsStartingWith,
    close,
  }
}

/**
 * A viem client for the one chain `url` serves, bound to it: `evm()` then pays through Permit2 on
 * that chain only. The chain id is asked once, here, so a Permit2 offer on another chain is refused
 * before anything is read or signed.
 */
async function chainReader(url: string): Promise<EvmChainReader> {
  const { createPublicClient, defineChain, http } = await import('viem')
  // Asked once, not retried: start-up waits 10 s at most.
  const id = await createPublicClient({ transport: http(url, { timeout: 10_000, retryCount: 0 }) })
    .getChainId()
    .catch(() => {
      throw new SettingsError('PAYFETCH_EVM_RPC_URL did not answer eth_chainId within 10 s.')
    })
  const chain = defineChain({
    id,
    name: `eip155:${id}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [url] } },
  })
  return createPublicClient({ chain, transport: http(url, { timeout: 10_000, retryCount: 1 }) })
}

// A keypair as the Solana CLI writes it (a JSON array of 64 numbers) or as base58 text.
function solanaKeyBytes(text: string, base58: (text: string) => Uint8Array | ArrayLike<number>): Uint8Array {
  try {
    const bytes = text.startsWith('[') ? Uint8Array.from(JSON.parse(text) as number[]) : base58(text)
    if (bytes.length === 64) return new Uint8Array(bytes)
  } catch {}
  throw new SettingsError('PAYFETCH_SOLANA_SECRET_KEY must be 64 bytes, as base58 or a JSON array of numbers.')
}

async function readServices(path: string): Promise<ServiceEntry[]> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch {
    throw new SettingsError('PAYFETCH_SERVICES: the catalog file cannot be read.')
  }
  try {
    return parseServiceCatalog(JSON.parse(text))
  } catch (error) {
    throw new SettingsError(
      `PAYFETCH_SERVICES: ${error instanceof SyntaxError ? 'not JSON' : (error as Error).message}`,
    )
  }
}

const redisTimeoutMs = 5_000

function bounded<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), ms)
  })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}
