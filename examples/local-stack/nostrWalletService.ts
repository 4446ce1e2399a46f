import type { Nip47LookupInvoiceRequest, Nip47PayInvoiceRequest, Nip47Transaction } from '@getalby/sdk/nwc'
import { generateSecretKey, getPublicKey } from 'nostr-tools'
import { type LightningNode, sha256Hex } from './lightningNode.js'
import type { NostrRelay } from './nostrRelay.js'

// @getalby/sdk and nostr-tools look for a global WebSocket, which Node 20 lacks: test code only.
globalThis.WebSocket ??= (await import('ws')).default as unknown as typeof globalThis.WebSocket
const { NWCWalletService, NWCWalletServiceKeyPair } = await import('@getalby/sdk/nwc')

export type WalletServiceBehavior = {
  /** Waits this long before answering (a slow or hung wallet). */
  readonly delayMs?: number | undefined
  /** Answers with a preimage that does not hash to the invoice's payment hash. */
  readonly garbagePreimage?: boolean | undefined
  /** Never answers. */
  readonly silent?: boolean | undefined
  /** Pays only once this settles (a wallet that pays after its client gave up waiting). */
  readonly hold?: Promise<void> | undefined
}

export type NostrWalletService = {
  /** The `nostr+walletconnect://` URI a client connects with. */
  readonly uri: string
  /** `pay_invoice` requests received, in order. */
  readonly requests: Nip47PayInvoiceRequest[]
  /** `lookup_invoice` requests received, in order. */
  readonly lookups: Nip47LookupInvoiceRequest[]
  close(): void
}

/**
 * A NIP-47 wallet service (`@getalby/sdk`'s `NWCWalletService`) on the relay: it publishes its info
 * event (NIP-04 and NIP-44) and answers `pay_invoice` by paying through `node` (which settles the
 * invoice and reveals its preimage), or with a NIP-47 error when the node refuses; `lookup_invoice`
 * by payment hash with the outgoing payment it made (`NOT_FOUND` for one it did not).
 */
export async function startNostrWalletService(
  relay: NostrRelay,
  node: LightningNode,
  behavior: WalletServiceBehavior = {},
): Promise<NostrWalletService> {
  const relayUrl = relay.url
  const walletSecret = Buffer.from(generateSecretKey()).toString('hex')
  const clientSecret = generateSecretKey()
  const walletPubkey = getPublicKey(Buffer.from(walletSecret, 'hex'))
  const service = new NWCWalletService({ relayUrl })
  await service.publishWalletServiceInfoEvent(walletSecret, ['pay_invoice', 'lookup_invoice', 'get_info'], [])
  const requests: Nip47PayInvoiceRequest[] = []
  const lookups: Nip47LookupInvoiceRequest[] = []
  // Outgoing payments this wallet made, by payment hash.
  const paid = new Map<string, Nip47Transaction>()
  const unsubscribe = await service.subscribe(new NWCWalletServiceKeyPair(walletSecret, getPublicKey(clientSecret)), {
    async payInvoice(request) {
      requests.push(request)
      if (behavior.silent) return new Promise<never>(() => {})
      if (behavior.delayMs) await new Promise((resolve) => setTimeout(resolve, behavior.delayMs))
      await behavior.hold
      try {
        const { preimage, feeMsat, amountMsat } = node.pay(request.invoice)
        const now = Math.floor(Date.now() / 1000)
        const paymentHash = sha256Hex(preimage)
        paid.set(paymentHash, {
          type: 'outgoing',
          state: 'settled',
          invoice: request.invoice,
          description: '',
          description_hash: '',
          preimage,
          payment_hash: paymentHash,
          amount: Number(amountMsat),
          fees_paid: Number(feeMsat),
          settled_at: now,
          created_at: now,
          expires_at: now + 600,
        })
        return {
          result: { preimage: behavior.garbagePreimage ? 'ab'.repeat(32) : preimage, fees_paid: Number(feeMsat) },
          error: undefined,
        }
      } catch (error) {
        return { result: undefined, error: { code: 'PAYMENT_FAILED', message: (error as Error).message } }
      }
    },
    async lookupInvoice(request) {
      lookups.push(request)
      const found = request.payment_hash ? paid.get(request.payment_hash) : undefined
      return found
        ? { result: found, error: undefined }
        : { result: undefined, error: { code: 'NOT_FOUND', message: 'no payment with this hash' } }
    },
  })
  // The service subscribes in the background; wait until the relay has its filter.
  while (!relay.hasSubscription((filter) => filter['#p']?.includes(walletPubkey) === true))
    await new Promise((resolve) => setTimeout(resolve, 5))
  const uri = `nostr+walletconnect://${walletPubkey}?relay=${encodeURIComponent(relayUrl)}&secret=${Buffer.from(clientSecret).toString('hex')}`
  return {
    uri,
    requests,
    lookups,
    close: () => {
      unsubscribe()
      service.close()
    },
  }
}
