import type { LightningWallet, PaymentStatus } from '../../src/lightning/index.js'

/**
 * The soak's Lightning wallet: it pays at the merchant's node (`POST /pay`, which settles each
 * invoice once) and looks payments up there by hash (`GET /lookup/<hash>`), so `resume` can finish
 * a payment whose payer died during the wallet call. With `pays: false` (the final pass, which must
 * only resume) asking it to pay is an error.
 */
export function soakWallet(nodeUrl: string, { pays }: { pays: boolean }): LightningWallet {
  return {
    name: 'soak-node',
    async payInvoice(invoice, { signal }) {
      if (!pays) throw new Error('this wallet only looks payments up')
      const response = await fetch(`${nodeUrl}/pay`, { method: 'POST', body: invoice, signal })
      if (!response.ok) throw new Error(`node answered ${response.status}: ${await response.text()}`)
      const { preimage } = (await response.json()) as { preimage: string }
      return { preimage, feeMsat: 0n }
    },
    async lookupPayment(paymentHash, { signal }): Promise<PaymentStatus> {
      const response = await fetch(`${nodeUrl}/lookup/${paymentHash}`, { signal })
      if (!response.ok) throw new Error(`node answered ${response.status} to a lookup`)
      const found = (await response.json()) as { status: 'paid'; preimage: string } | { status: 'failed' }
      // The node charges no routing fee.
      return found.status === 'paid' ? { ...found, feeMsat: 0n } : found
    },
  }
}
