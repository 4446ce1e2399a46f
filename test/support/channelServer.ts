import { createServer } from 'node:http'
import { type Hex, hashTypedData, verifyTypedData } from 'viem'
import { close, decodeBase64Json, encodeBase64Json, listen } from '../../examples/local-stack/http.js'
import { channelConfigTypes, voucherTypes } from '../../src/evm/batchSignatures.js'

export const usdc = '0x036CbD53842c5426634e7929541eC2318f3dCF7e'
export const receiver = '0x209693Bc6afc0C5328bA36FaF03C514EF312287C'
export const receiverAuthorizer = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
export const price = 1_000n
const network = 'eip155:84532'
const domain = {
  name: 'x402 Batch Settlement',
  version: '1',
  chainId: 84532,
  verifyingContract: '0x4020074e9dF2ce1deE5A9C1b5c3f541D02a10003',
} as const

/** How the loopback channel server misbehaves, for the client's checks. */
export type ChannelServerOptions = {
  /** Report this charge instead of the price (a lie when above it). */
  reportCharged?: (() => bigint) | undefined
  /** Report this channel id instead of the real one. */
  reportChannelId?: string | undefined
  /** Add this to the cumulative total it reports. */
  skewCumulative?: bigint | undefined
  /** Answer the next N proofs with `channel_busy`. */
  busy?: number | undefined
  /** The server's own idea of what was charged before, set to force a corrective 402. */
  serverCharged?: bigint | undefined
  /** Charge the next voucher, then drop the connection instead of answering. */
  loseNext?: boolean | undefined
  /** Sign the corrective 402's voucher with this key's account instead of echoing the payer's. */
  forgeWith?: { signTypedData: (parameters: never) => Promise<Hex> } | undefined
}

export type ChannelServer = {
  url: string
  /** Every payload received, in order. */
  payloads: Record<string, unknown>[]
  /** What the server counts as charged, in total. */
  charged(): bigint
  options: ChannelServerOptions
  close(): Promise<void>
}

/**
 * A loopback x402 server speaking the `batch-settlement` wire as the 2.27 reference server does
 * (channel id from the config, voucher signature checked, `maxClaimableAmount` must be exactly the
 * charged total plus the price, PAYMENT-RESPONSE `extra.chargedAmount` and `extra.channelState`,
 * corrective 402 with the last voucher) without a chain, and able to lie on purpose.
 */
export async function startChannelServer(options: ChannelServerOptions = {}): Promise<ChannelServer> {
  const payloads: Record<string, unknown>[] = []
  let charged = options.serverCharged ?? 0n
  let deposited = 0n
  let last: { signed: bigint; signature: Hex } | undefined
  const accept = (extra: Record<string, unknown> = {}) => ({
    scheme: 'batch-settlement',
    network,
    amount: price.toString(),
    asset: usdc,
    payTo: receiver,
    maxTimeoutSeconds: 60,
    extra: { name: 'USDC', version: '2', receiverAuthorizer, withdrawDelay: 900, minDeposit: '5000', ...extra },
  })
  const server = createServer(async (request, response) => {
    const url = `http://${request.headers.host}${request.url}`
    const challenge = (error?: string, extra?: Record<string, unknown>) =>
      response
        .writeHead(402, {
          'payment-required': encodeBase64Json({
            x402Version: 2,
            error,
            resource: { url },
            accepts: [accept(extra)],
          }),
        })
        .end('{}')
    const header = request.headers['payment-signature']
    if (typeof header !== 'string') return challenge('payment required')
    const { payload } = decodeBase64Json(header) as { payload: Record<string, unknown> }
    payloads.push(payload)
    if ((options.busy ?? 0) > 0) {
      options.busy = (options.busy ?? 0) - 1
      return challenge('invalid_batch_settlement_evm_channel_busy')
    }
    const config = payload.channelConfig as Record<string, unknown>
    const voucher = payload.voucher as { channelId: Hex; maxClaimableAmount: string; signature: Hex }
    const channelId = hashTypedData({
      domain,
      types: channelConfigTypes,
      primaryType: 'ChannelConfig',
      message: config as never,
    })
    const signed = BigInt(voucher.maxClaimableAmount)
    const genuine = await verifyTypedData({
      address: config.payerAuthorizer as Hex,
      domain,
      types: voucherTypes,
      primaryType: 'Voucher',
      message: { channelId, maxClaimableAmount: signed },
      signature: voucher.signature,
    })
    if (channelId !== voucher.channelId || !genuine) return challenge('invalid_batch_settlement_evm_voucher_signature')
    const deposit = payload.type === 'deposit' ? BigInt((payload.deposit as { amount: string }).amount) : 0n
    if (signed !== charged + price) {
      const signature = options.forgeWith
        ? await options.forgeWith.signTypedData({
            domain,
            types: voucherTypes,
            primaryType: 'Voucher',
            message: { channelId, maxClaimableAmount: charged },
          } as never)
        : last?.signature
      return challenge('invalid_batch_settlement_evm_cumulative_amount_mismatch', {
        channelState: { channelId, chargedCumulativeAmount: charged.toString(), balance: deposited.toString() },
        voucherState: {
          signedMaxClaimable: (options.forgeWith ? charged : (last?.signed ?? 0n)).toString(),
          signature,
        },
      })
    }
    deposited += deposit
    charged = signed
    last = { signed, signature: voucher.signature }
    if (options.loseNext) {
      options.loseNext = false
      request.socket.destroy()
      return
    }
    const reported = options.reportCharged?.() ?? price
    response
      .writeHead(200, {
        'content-type': 'application/json',
        'payment-response': encodeBase64Json({
          success: true,
          transaction: '',
          network,
          payer: config.payer,
          amount: '',
          extra: {
            chargedAmount: reported.toString(),
            channelState: {
              channelId: options.reportChannelId ?? channelId,
              balance: deposited.toString(),
              chargedCumulativeAmount: (charged + (options.skewCumulative ?? 0n)).toString(),
            },
          },
        }),
      })
      .end(JSON.stringify({ weather: 'sunny' }))
  })
  const url = await listen(server)
  return { url, payloads, charged: () => charged, options, close: () => close(server) }
}
