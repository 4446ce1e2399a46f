import type { Nip47PayInvoiceRequest } from '@getalby/sdk/nwc'
import { generateSecretKey, getPublicKey } from 'nostr-tools'
import type { LightningNode } from './lightningNode.js'
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
}

export type NostrWalletService = {
  /** The `nostr+walletconnect://` URI a client connects with. */
  readonly uri: string
  /** `pay_invoice` requests received, in order. */
  readonly requests: Nip47PayInvoiceRequest[]
  close(): void
}

/**
 * A NIP-47 wallet service (`@getalby/sdk`'s `NWCWalletService`) on the relay: it publishes its info
 * event (NIP-04 and NIP-44) and answers `pay_invoice` by paying through `node` (which settles the
 * invoice and reveals its preimage), or with a NIP-47 error when the node refuses.
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
  await service.publishWalletServiceInfoEvent(walletSecret, ['pay_invoice', 'get_info'], [])
  const requests: Nip47PayInvoiceRequest[] = []
  const unsubscribe = await service.subscribe(new NWCWalletServiceKeyPair(walletSecret, getPublicKey(clientSecret)), {
    async payInvoice(request) {
      requests.push(request)
      if (behavior.silent) return new Promise<never>(() => {})
      if (behavior.delayMs) await new Promise((resolve) => setTimeout(resolve, behavior.delayMs))
      try {
        const { preimage, feeMsat } = node.pay(request.invoice)
        return {
          result: { preimage: behavior.garbagePreimage ? 'ab'.repeat(32) : preimage, fees_paid: Number(feeMsat) },
          error: undefined,
        }
      } catch (error) {
        return { result: undefined, error: { code: 'PAYMENT_FAILED', message: (error as Error).message } }
      }
    },
  })
  // The service subscribes in the background; wait until the relay has its filter.
  while (!relay.hasSubscription((filter) => filter['#p']?.includes(walletPubkey) === true))
    await new Promise((resolve) => setTimeout(resolve, 5))
  const uri = `nostr+walletconnect://${walletPubkey}?relay=${encodeURIComponent(relayUrl)}&secret=${Buffer.from(clientSecret).toString('hex')}`
  return {
    uri,
    requests,
    close: () => {
      unsubscribe()
      service.close()
    },
  }
}
