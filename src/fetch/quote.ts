import type { CallBounds } from '../caps/policy.js'
import type { PayfetchError } from '../errors/PayfetchError.js'
import type { Offer } from '../offer/Offer.js'
import type { OfferCheck } from '../offer/SignedTerms.js'
import { judgeChallenge } from './chooseOffer.js'
import { announcement, type PayingContext } from './context.js'
import { read402 } from './read402.js'
import { captureRequest } from './replayableRequest.js'
import { reaccessFor } from './signInAgain.js'

/** What a resource costs, as payfetch would judge it. Nothing is paid to produce it. */
export type Quote = {
  readonly url: string
  /** The status of the unpaid response; offers exist only for 402. */
  readonly status: number
  /** Every offer, payable ones first (cheapest first). */
  readonly offers: readonly QuotedOffer[]
  /** The offer payfetch would pay, if any. */
  readonly best?: Offer | undefined
  /**
   * The address a paid call would first sign in as (x402 sign-in-with-x), because it paid for this
   * resource before: the call pays only if the server declines the sign-in.
   */
  readonly signInFirst?: { readonly address: string; readonly network: string } | undefined
}

export type QuotedOffer = {
  readonly offer: Offer
  /** The signer that would pay it. */
  readonly signer?: string | undefined
  /** Why it would not be paid. */
  readonly refusal?: PayfetchError | undefined
  /**
   * A channel offer (x402 `batch-settlement`): the deposit paying now would make first (`0n`: the
   * channel has room, only the offer's `amount` is drawn from it).
   */
  readonly deposit?: bigint | undefined
  /** What the server's signed offer check said (`signedTerms`), when it had something to say. */
  readonly signed?: OfferCheck | undefined
}

/** Sends the request once, unpaid, and judges the offers of a 402 as a paid call would. */
export async function quote(
  context: PayingContext,
  input: RequestInfo | URL,
  init: RequestInit | undefined,
  bounds: CallBounds,
): Promise<Quote> {
  const request = await captureRequest(input, init, context.maxBodyBytes)
  const headers = announcement(context, request, request.url)
  const response = await context.fetch(...request.build(headers && { headers }))
  const url = response.url || request.url
  if (response.status !== 402) {
    await response.body?.cancel().catch(() => {})
    return { url, status: response.status, offers: [] }
  }
  context.charged(url)
  const answer = await read402(response, url, { timeoutMs: context.readTimeoutMs, signal: request.signal })
  const candidates = await judgeChallenge(context, answer, { url, body: request.body, signal: request.signal }, bounds)
  const best = candidates[0]
  const reaccess = await reaccessFor(context, url, answer)
  return {
    url,
    status: 402,
    offers: await Promise.all(
      candidates.map(async ({ offer, signer, refusal, payer, signed }) => ({
        offer,
        signer: signer?.name,
        refusal,
        ...(signed && { signed }),
        ...(payer?.channel &&
          offer.method && {
            deposit: await payer.channel.peek(offer.method, { url, sessions: context.sessions }).catch(() => undefined),
          }),
      })),
    ),
    best: best?.signer && !best.refusal ? best.offer : undefined,
    ...(reaccess && { signInFirst: { address: reaccess.address, network: reaccess.network } }),
  }
}
