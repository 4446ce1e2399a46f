// The Lightning part of `npm run demo`: an Aperture-like L402 server, a nostr relay and a NIP-47
// wallet service on loopback; payfetch pays the invoice over Nostr Wallet Connect, then reuses
// the paid token for the next call without paying again.
import WebSocket from 'ws'
import { createPayingFetch, getReceipt, type Receipt } from '../../src/index.js'
import { lightning, nwc } from '../../src/lightning/index.js'
import { startLightningStack } from './lightningStack.js'

/** Pays one L402 resource over NWC and calls it again with the stored token. */
export async function runLightningDemo(): Promise<void> {
  const stack = await startLightningStack()
  try {
    const server = await stack.l402Server()
    const wallet = await stack.walletService()
    console.log(
      `Lightning stack up: L402 server ${server.url}, relay ${stack.relay.url}, node ${stack.node.publicKey.slice(0, 16)}…\n`,
    )
    const fetchPaid = createPayingFetch({
      signers: [lightning({ wallet: nwc(wallet.uri, { WebSocket }), networks: ['regtest'], maxFeeSats: 10 })],
      caps: { perRequest: { sats: 100 } },
    })
    for (const label of [
      'L402 GET /report (pays the invoice over NWC)',
      'L402 GET /report again (reuses the paid token)',
    ]) {
      console.log(label)
      const started = performance.now()
      const response = await fetchPaid(`${server.url}/report`)
      const ms = (performance.now() - started).toFixed(0)
      const receipt = getReceipt(response) as Receipt | undefined
      console.log(`  ${response.status} ${(await response.text()).slice(0, 60)}`)
      console.log(
        receipt
          ? `  paid ${receipt.amount / 1000n} sats (fee ${(receipt.fee ?? 0n) / 1000n} sats) on ${receipt.network} in ${ms} ms; payment hash ${receipt.reference}`
          : `  nothing paid in ${ms} ms; invoices settled so far: ${stack.node.settled.length}`,
      )
    }
  } finally {
    await stack.stop()
  }
}
