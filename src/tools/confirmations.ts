import type { Rates } from '../caps/valuation.js'
import { toNanoUsd } from '../caps/valuation.js'
import type { ApprovalRequest } from '../fetch/approval.js'
import { parseDecimal } from '../utils/decimal.js'
import { summarizeOffer } from './summarizeOffer.js'
import { type ConfirmationQuote, ToolFailureError, unpaid } from './ToolFailure.js'

/**
 * When a payment needs a yes first: `never`; `always`; `above:<usd>` (and every payment payfetch
 * cannot value in USD); `auto` asks only where a person can be asked (MCP elicitation, a terminal)
 * and otherwise pays within the caps.
 */
export type ConfirmMode = 'auto' | 'always' | 'never' | { readonly aboveUsd: string }

/** What a person is asked to approve. */
export type ConfirmPrompt = Omit<ConfirmationQuote, 'quote_id' | 'expires_at'>

/**
 * Asks a person. `true` pays, `false` declines; `undefined` means nobody can be asked here (the
 * MCP host has no elicitation), and the tool falls back to a one-time quote id.
 */
export type AskPerson = (prompt: ConfirmPrompt) => Promise<boolean | undefined>

/** The request a quote id is bound to. */
export type BoundRequest = { readonly method: string; readonly url: string; readonly bodyDigest: string }

type Issued = {
  readonly request: BoundRequest
  readonly quote: ConfirmationQuote
  readonly amount: bigint
  /** The channel deposit the quote showed (0: none): a confirmation covers no larger one. */
  readonly deposit: bigint
  readonly expiresAt: number
}

/** Parses `PAYFETCH_CONFIRM`-style text: `auto`, `always`, `never` or `above:<usd>`. */
export function parseConfirmMode(text: string): ConfirmMode | undefined {
  if (text === 'auto' || text === 'always' || text === 'never') return text
  const above = /^above:([0-9]{1,30}(?:\.[0-9]{1,30})?)$/.exec(text)
  return above ? { aboveUsd: above[1] as string } : undefined
}

/**
 * Issues and checks one-time confirmation quotes. The check runs inside payfetch's `approve` hook,
 * on the offer actually about to be paid (after the caps and the budget reservation), so a
 * confirmed call pays at most the quoted amount, to the quoted payee, in the quoted asset.
 */
export function createConfirmations(options: {
  mode: ConfirmMode
  ttlMs: number
  now: () => number
  rates?: Rates | undefined
}) {
  const issued = new Map<string, Issued>()
  const threshold = typeof options.mode === 'object' ? toNanoUsd(parseDecimal(options.mode.aboveUsd, 'aboveUsd')) : 0n

  const needed = (usd: string | undefined): boolean => {
    const mode = options.mode
    if (mode === 'never' || mode === 'auto') return false
    if (mode === 'always') return true
    return usd === undefined || toNanoUsd(parseDecimal(usd, 'usd')) > threshold
  }

  const sweep = () => {
    const now = options.now()
    for (const [id, entry] of issued) if (entry.expiresAt <= now) issued.delete(id)
  }

  /**
   * The approve hook for one call. Throws a {@link ToolFailureError} (caught by the caller after
   * payfetch refuses) by recording it in `outcome`, since payfetch turns any `false` into
   * `APPROVAL_DENIED`.
   */
  function approverFor(call: {
    request: BoundRequest
    quoteId?: string | undefined
    ask?: AskPerson | undefined
    outcome: { failure?: ToolFailureError; usd?: string | undefined }
  }) {
    return async (approval: ApprovalRequest): Promise<boolean> => {
      call.outcome.usd = approval.usd
      const summary = await summarizeOffer(approval.offer, options.rates)
      const prompt: ConfirmPrompt = {
        protocol: summary.protocol,
        network: summary.network,
        asset: summary.asset,
        ...(summary.symbol === undefined ? {} : { symbol: summary.symbol }),
        amount: summary.amount,
        ...(approval.usd === undefined ? {} : { amount_usd: approval.usd }),
        ...(approval.deposit && {
          deposit: approval.deposit.amount.toString(),
          ...(approval.deposit.usd === undefined ? {} : { deposit_usd: approval.deposit.usd }),
        }),
        payee: summary.payee,
        url: call.request.url,
        method: call.request.method,
      }
      if (call.quoteId !== undefined) return redeem(call.quoteId, call.request, approval, call.outcome)
      const personAvailable = call.ask !== undefined
      if (options.mode === 'never') return true
      if (options.mode === 'auto' && !personAvailable) return true
      // A channel's deposit is the money at risk: the threshold judges it, not the price.
      if (options.mode !== 'auto' && !needed(approval.deposit ? approval.deposit.usd : approval.usd)) return true
      const answer = await call.ask?.(prompt)
      if (answer === true) return true
      if (answer === false) {
        call.outcome.failure = unpaid('APPROVAL_DENIED', 'The person asked declined the payment.')
        return false
      }
      if (options.mode === 'auto') return true
      call.outcome.failure = new ToolFailureError({
        code: 'CONFIRMATION_REQUIRED',
        message:
          'This payment needs confirmation. Nothing was paid. To pay, call again with the same request and confirm_quote_id.',
        paid: false,
        quote: issue(prompt, call.request, approval.offer.amount, approval.deposit?.amount ?? 0n),
      })
      return false
    }
  }

  function issue(prompt: ConfirmPrompt, request: BoundRequest, amount: bigint, deposit: bigint): ConfirmationQuote {
    sweep()
    const expiresAt = options.now() + options.ttlMs
    const bytes = crypto.getRandomValues(new Uint8Array(16))
    const quoteId = `q_${Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')}`
    const quote: ConfirmationQuote = { quote_id: quoteId, expires_at: new Date(expiresAt).toISOString(), ...prompt }
    issued.set(quoteId, { request, quote, amount, deposit, expiresAt })
    return quote
  }

  function redeem(
    quoteId: string,
    request: BoundRequest,
    approval: ApprovalRequest,
    outcome: { failure?: ToolFailureError },
  ): boolean {
    const entry = issued.get(quoteId)
    const reason = !entry
      ? 'unknown or already used'
      : entry.expiresAt <= options.now()
        ? 'expired'
        : entry.request.method !== request.method ||
            entry.request.url !== request.url ||
            entry.request.bodyDigest !== request.bodyDigest
          ? 'issued for another request'
          : entry.quote.protocol !== approval.offer.protocol ||
              entry.quote.network !== approval.offer.network ||
              entry.quote.asset !== approval.offer.asset.id ||
              entry.quote.payee !== approval.offer.payTo
            ? 'the server now asks for a different payment'
            : approval.offer.amount > entry.amount
              ? 'the server now asks for more than was quoted'
              : (approval.deposit?.amount ?? 0n) > entry.deposit
                ? 'the channel now needs a larger deposit'
                : undefined
    if (entry && reason !== 'issued for another request') issued.delete(quoteId)
    if (reason === undefined) return true
    outcome.failure = unpaid(
      'CONFIRMATION_INVALID',
      `The confirmation quote cannot be used: ${reason}. Nothing was paid.`,
    )
    return false
  }

  return { approverFor, needed }
}

/** SHA-256 of a request body, hex; the empty string's digest when there is none. */
export async function digestBody(body: string | undefined): Promise<string> {
  const bytes = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(body ?? '')))
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')
}
