import { isPayfetchError, PayfetchError } from '../errors/PayfetchError.js'
import { textOf } from '../utils/guards.js'
import type { LightningWallet, LookupPaymentOptions, PaymentStatus } from './LightningWallet.js'
import { parseNwcUri } from './nwcUri.js'
import { connectRelay, type RelayConnection, type WebSocketConstructor } from './relayConnection.js'
import { outcomeUnknown, paymentFailed } from './walletErrors.js'

export type NwcOptions = {
  /** The WebSocket class. Default: the global one; on Node 20, pass `WebSocket` from the `ws` package. */
  WebSocket?: WebSocketConstructor | undefined
}

type NostrEvent = {
  id: string
  pubkey: string
  kind: number
  created_at: number
  tags: string[][]
  content: string
  sig: string
}
type Encryption = 'nip44_v2' | 'nip04'

// NIP-47 error codes after which the wallet service has not paid. INTERNAL, OTHER and codes this
// list does not know leave the outcome unknown.
const notPaidCodes = new Set([
  'PAYMENT_FAILED',
  'INSUFFICIENT_BALANCE',
  'QUOTA_EXCEEDED',
  'RATE_LIMITED',
  'RESTRICTED',
  'UNAUTHORIZED',
  'NOT_IMPLEMENTED',
  'UNSUPPORTED_ENCRYPTION',
  'NOT_FOUND',
])

/**
 * Pays through Nostr Wallet Connect (NIP-47 `pay_invoice`), written directly on `nostr-tools`
 * (an optional peer dependency, loaded on the first payment): the request is signed with the
 * connection secret, encrypted with NIP-44 when the wallet service's info event offers it (else
 * NIP-04), carries an `expiration` tag at the signer's timeout, and is published only after the
 * reply subscription is confirmed. Relays are tried in order until one connects; nothing is sent
 * twice. NIP-47 has no fee-limit parameter: the budget set on the connection applies.
 *
 * @example
 * ```ts
 * import { lightning, nwc } from 'payfetch/lightning'
 * import { WebSocket } from 'ws' // Node 20 has no global WebSocket
 *
 * const signer = lightning({ wallet: nwc(process.env.NWC_URI!, { WebSocket }), maxFeeSats: 10 })
 * ```
 *
 * @throws {PayfetchError} `INVALID_OPTIONS` for a malformed URI or when no WebSocket class exists.
 */
export function nwc(uri: string, options: NwcOptions = {}): LightningWallet {
  const { walletPubkey, relays, secret } = parseNwcUri(uri)
  const WebSocket = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
  if (!WebSocket)
    throw new PayfetchError(
      'INVALID_OPTIONS',
      'nwc() needs a WebSocket class: pass { WebSocket } from the ws package where there is no global one (Node 20).',
    )
  const secretKey = Uint8Array.from(secret.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16))
  let encryption: Encryption | undefined

  type Reply = {
    error?: { code?: unknown; message?: unknown } | null
    result?: Record<string, unknown> | null
  }

  /**
   * Sends one NIP-47 request and returns the wallet service's reply. Before the request left:
   * `PAYMENT_FAILED`; after, without a reply: `PAYMENT_OUTCOME_UNKNOWN`.
   */
  const ask = async (
    method: 'pay_invoice' | 'lookup_invoice',
    params: Record<string, string>,
    { signal, timeoutSeconds }: LookupPaymentOptions,
    paymentHash: string,
  ): Promise<Reply> => {
    let nostr: Awaited<ReturnType<typeof loadNostr>>
    try {
      nostr = await loadNostr()
    } catch (error) {
      throw paymentFailed(
        'nwc',
        'nostr-tools could not be loaded (install it next to payfetch)',
        paymentHash,
        {},
        error,
      )
    }
    const fromWallet = (event: unknown): event is NostrEvent =>
      typeof event === 'object' &&
      event !== null &&
      (event as NostrEvent).pubkey === walletPubkey &&
      nostr.verifyEvent(event as NostrEvent)
    let relay: RelayConnection | undefined
    let sent = false
    try {
      relay = await connectFirst(relays, WebSocket, signal)
      encryption ??= await readEncryption(relay, walletPubkey, fromWallet)
      const key = encryption === 'nip44_v2' ? nostr.nip44.getConversationKey(secretKey, walletPubkey) : undefined
      const encrypt = (text: string) =>
        key ? nostr.nip44.encrypt(text, key) : nostr.nip04.encrypt(secretKey, walletPubkey, text)
      const decrypt = (text: string) =>
        key ? nostr.nip44.decrypt(text, key) : nostr.nip04.decrypt(secretKey, walletPubkey, text)
      const now = Math.floor(Date.now() / 1000)
      const request = nostr.finalizeEvent(
        {
          kind: 23194,
          created_at: now,
          // A wallet service that receives the request after the timeout must ignore it.
          tags: [
            ['p', walletPubkey],
            ['encryption', encryption],
            ['expiration', String(now + timeoutSeconds)],
          ],
          content: encrypt(JSON.stringify({ method, params })),
        },
        secretKey,
      ) as NostrEvent
      // Replies are ephemeral and never stored: subscribe, wait for the relay to confirm, then publish.
      const subscription = randomId()
      relay.send(['REQ', subscription, { kinds: [23195], authors: [walletPubkey], '#e': [request.id] }])
      await relay.next((message) => (message[0] === 'EOSE' && message[1] === subscription) || undefined)
      const answer = relay.next((message) => {
        if (message[0] === 'OK' && message[1] === request.id && message[2] === false)
          return { refused: textOf(message[3]) }
        const [type, id, event] = message
        if (
          type === 'EVENT' &&
          id === subscription &&
          fromWallet(event) &&
          event.tags.some(([name, value]) => name === 'e' && value === request.id)
        )
          return { event }
        return undefined
      })
      sent = true
      relay.send(['EVENT', request])
      const reply = await answer
      if ('refused' in reply)
        throw paymentFailed('nwc', 'the relay refused the request', paymentHash, { relayMessage: reply.refused })
      return JSON.parse(decrypt(reply.event.content)) as Reply
    } catch (error) {
      if (isPayfetchError(error)) throw error
      if (!sent)
        throw paymentFailed(
          'nwc',
          signal.aborted ? 'the timeout passed before the request was sent' : 'no relay could be used',
          paymentHash,
          {},
          error,
        )
      throw outcomeUnknown(
        'nwc',
        signal.aborted ? 'no answer came before the timeout' : 'the relay connection failed after the request was sent',
        paymentHash,
        {},
        error,
      )
    } finally {
      relay?.close()
    }
  }

  const reportOf = (error: NonNullable<Reply['error']>) => ({
    code: textOf(error.code),
    message: textOf(error.message),
  })

  return {
    name: 'nwc',
    async payInvoice(invoice, options) {
      const { paymentHash } = options
      const response = await ask('pay_invoice', { invoice }, options, paymentHash)
      if (response.error) {
        const report = reportOf(response.error)
        throw notPaidCodes.has(report.code)
          ? paymentFailed('nwc', `the wallet service answered ${report.code}`, paymentHash, report)
          : outcomeUnknown('nwc', `the wallet service answered ${report.code}`, paymentHash, report)
      }
      const fee = response.result?.fees_paid
      return {
        preimage: textOf(response.result?.preimage),
        feeMsat: Number.isSafeInteger(fee) ? BigInt(fee as number) : undefined,
      }
    },
    // NIP-47 `lookup_invoice` by payment hash. A payment the service does not know may still be
    // on its way to it: pending, never failed.
    async lookupPayment(paymentHash, options): Promise<PaymentStatus> {
      const response = await ask('lookup_invoice', { payment_hash: paymentHash }, options, paymentHash)
      if (response.error) {
        const report = reportOf(response.error)
        if (report.code === 'NOT_FOUND') return { status: 'pending' }
        throw outcomeUnknown('nwc', `the wallet service answered ${report.code} to a lookup`, paymentHash, report)
      }
      const found = response.result ?? {}
      if (found.type === 'incoming' || found.payment_hash !== paymentHash) return { status: 'pending' }
      if (found.state === 'failed') return { status: 'failed' }
      const fee = found.fees_paid
      // Services from before NIP-47 had `state` show a settled payment by its preimage.
      return (found.state === undefined || found.state === 'settled') && found.preimage
        ? {
            status: 'paid',
            preimage: textOf(found.preimage),
            feeMsat: Number.isSafeInteger(fee) ? BigInt(fee as number) : undefined,
          }
        : { status: 'pending' }
    },
  }
}

async function loadNostr() {
  const [pure, nip44, nip04] = await Promise.all([
    import('nostr-tools/pure'),
    import('nostr-tools/nip44'),
    import('nostr-tools/nip04'),
  ])
  return { finalizeEvent: pure.finalizeEvent, verifyEvent: pure.verifyEvent, nip44, nip04 }
}

/** The first relay that accepts a connection; failing ones are skipped (nothing was sent to them). */
async function connectFirst(
  relays: readonly string[],
  WebSocket: WebSocketConstructor,
  signal: AbortSignal,
): Promise<RelayConnection> {
  let lastError: unknown
  for (const url of relays) {
    try {
      return await connectRelay(url, WebSocket, signal)
    } catch (error) {
      lastError = error
      if (signal.aborted) break
    }
  }
  throw lastError
}

/** NIP-44 when the wallet service's info event (kind 13194) lists it; else NIP-04, as NIP-47 says. */
async function readEncryption(
  relay: RelayConnection,
  walletPubkey: string,
  fromWallet: (event: unknown) => event is NostrEvent,
): Promise<Encryption> {
  const subscription = randomId()
  relay.send(['REQ', subscription, { kinds: [13194], authors: [walletPubkey], limit: 1 }])
  const info = await relay.next((message) => {
    if (message[1] !== subscription) return undefined
    if (message[0] === 'EOSE') return null
    return message[0] === 'EVENT' && fromWallet(message[2]) ? message[2] : undefined
  })
  relay.send(['CLOSE', subscription])
  const tag = info?.tags.find(([name]) => name === 'encryption')?.[1]
  return tag?.split(' ').includes('nip44_v2') ? 'nip44_v2' : 'nip04'
}

function randomId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(8)), (byte) => byte.toString(16).padStart(2, '0')).join('')
}
