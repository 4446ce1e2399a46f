import { randomBytes } from 'node:crypto'
import type { ChargeServer } from './chargeServer.js'
import { type L402Server, type L402ServerOptions, startL402Server } from './l402Server.js'
import { type LightningChargeRoute, startLightningChargeServer } from './lightningChargeServer.js'
import { createLightningNode, type LightningNode } from './lightningNode.js'
import {
  startClnRest,
  startLnbits,
  startLndRest,
  type WalletServer,
  type WalletServerBehavior,
} from './lightningWallets.js'
import { type NostrRelay, startNostrRelay } from './nostrRelay.js'
import { type NostrWalletService, startNostrWalletService, type WalletServiceBehavior } from './nostrWalletService.js'

/** Credentials of the fake REST wallets (test values). */
export const walletSecrets = {
  lndMacaroon: randomBytes(64).toString('hex'),
  clnRune: `${randomBytes(24).toString('base64url')}==`,
  lnbitsAdminKey: randomBytes(16).toString('hex'),
} as const

export type LightningStack = {
  /** The payee side of every server started here: it issues the invoices and settles them. */
  readonly node: LightningNode
  readonly relay: NostrRelay
  /** An Aperture-like L402 server whose invoices `node` issues. */
  l402Server(options?: Omit<L402ServerOptions, 'node'>): Promise<L402Server>
  /** A `Payment`-scheme Lightning charge server (draft-lightning-charge-00) whose invoices `node` issues. */
  chargeServer(routes?: readonly LightningChargeRoute[]): Promise<ChargeServer>
  /** A NIP-47 wallet service on the relay that pays through `node`. */
  walletService(behavior?: WalletServiceBehavior): Promise<NostrWalletService>
  lnd(behavior?: WalletServerBehavior): Promise<WalletServer>
  coreLightning(behavior?: WalletServerBehavior): Promise<WalletServer>
  lnbits(behavior?: WalletServerBehavior): Promise<WalletServer>
  stop(): Promise<void>
}

/**
 * Everything an L402 or Lightning `charge` payment touches, on loopback: one Lightning node
 * (invoices and the preimage table), a nostr relay, and on demand L402 servers, Lightning charge
 * servers, NWC wallet services and lnd / Core Lightning / LNbits REST wallets that pay through the node. Everything started is stopped by `stop()`.
 */
export async function startLightningStack(): Promise<LightningStack> {
  const node = createLightningNode()
  const relay = await startNostrRelay()
  const stoppers: (() => unknown)[] = []
  const track = <T extends { close(): unknown }>(started: T): T => {
    stoppers.push(() => started.close())
    return started
  }
  return {
    node,
    relay,
    l402Server: async (options = {}) => track(await startL402Server({ ...options, node })),
    chargeServer: async (routes) => track(await startLightningChargeServer(node, routes)),
    walletService: async (behavior) => track(await startNostrWalletService(relay, node, behavior)),
    lnd: async (behavior) => track(await startLndRest(node, walletSecrets.lndMacaroon, behavior)),
    coreLightning: async (behavior) => track(await startClnRest(node, walletSecrets.clnRune, behavior)),
    lnbits: async (behavior) => track(await startLnbits(node, walletSecrets.lnbitsAdminKey, behavior)),
    async stop() {
      await Promise.allSettled(stoppers.map((stop) => stop()))
      await relay.close()
    },
  }
}
