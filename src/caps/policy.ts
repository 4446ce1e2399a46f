import { PayfetchError } from '../errors/PayfetchError.js'
import { describeOffer } from '../offer/describeOffer.js'
import type { Offer, PaymentFlow } from '../offer/Offer.js'
import { parseDecimal } from '../utils/decimal.js'
import { type Budget, type BudgetRule, type Charge, chargesFor, parseBudgets } from './budgets.js'
import { hostMatches } from './hosts.js'
import { findKnownAsset, sameAsset } from './knownAssets.js'
import { type Rates, toNanoUsd, valueInNanoUsd } from './valuation.js'

/**
 * Spend limits checked before anything is signed. Amounts in atomic units are `bigint`; USD
 * amounts are decimal strings such as `'0.10'`.
 */
export type Caps = {
  /**
   * Limits on one payment. `usd` (default `'0.10'`) applies to every payment payfetch can value;
   * `sats` (default 100) to Lightning payments.
   */
  perRequest?: { usd?: string | undefined; sats?: bigint | number | undefined } | undefined
  /**
   * The assets that may be paid. Absent: the assets payfetch knows (USDC on the x402 default
   * networks, pathUSD on Tempo mainnet and Moderato, BTC over Lightning). Present: only these; one payfetch cannot value needs
   * `maxAmount` (or a price from `rates`).
   */
  assets?: readonly AssetAllowance[] | undefined
  /**
   * The payment flows that may be paid besides `authorization` (always allowed: nothing settles
   * before the server did the work). `upfront` and `escrow` settle first, so a failing handler
   * keeps the money; they are refused (`FLOW_NOT_ALLOWED`) unless listed. Absent: neither.
   */
  flows?: readonly PaymentFlow[] | undefined
  /** CAIP-2 networks that may be paid on, e.g. `['eip155:8453']`. Absent: any. */
  networks?: readonly string[] | undefined
  /** Hosts that may be paid (`api.example.com`, `*.example.com`, `host:port`). Deny wins. */
  hosts?: { allow?: readonly string[] | undefined; deny?: readonly string[] | undefined } | undefined
  /** Limits on what payments add up to, over rolling windows or in total. */
  budgets?: readonly Budget[] | undefined
  /** USD prices for assets that are not stablecoins (BTC, SOL, ETH). Without one, they cannot count against USD limits. */
  rates?: Rates | undefined
  /** How long `rates` may take before the offer counts as unpriceable, in ms. Default 5 000. */
  ratesTimeoutMs?: number | undefined
}

export type AssetAllowance = {
  /** CAIP-2 network id. */
  readonly network: string
  /** Contract address, mint, or `BTC` for Lightning. */
  readonly asset: string
  /** The most one payment may cost, in atomic units. */
  readonly maxAmount?: bigint | undefined
  /** The asset's decimals, so `rates` can value it (x402 offers do not carry them). */
  readonly decimals?: number | undefined
}

/**
 * Limits one call may add; they can only lower the caps, never raise them, and they bound the
 * whole call: with `maxPayments` above 1, every payment of the call counts against them.
 */
export type CallLimits = {
  /** The most this call may pay, in US dollars. */
  readonly maxUsd?: string | undefined
  /** The most this call may pay over Lightning, in sats, routing fees included. */
  readonly maxSats?: number | bigint | undefined
}

/** Call limits in the units payfetch compares: nano-dollars and millisatoshis. */
export type CallBounds = { readonly nanoUsd?: bigint | undefined; readonly msat?: bigint | undefined }

/**
 * Validates call limits into bounds.
 *
 * @throws {PayfetchError} `INVALID_OPTIONS` for a malformed amount.
 */
export function callBounds(limits: CallLimits = {}): CallBounds {
  return {
    nanoUsd: limits.maxUsd === undefined ? undefined : toNanoUsd(parseDecimal(limits.maxUsd, 'maxUsd')),
    msat: limits.maxSats === undefined ? undefined : toSats(limits.maxSats, 'maxSats') * 1000n,
  }
}

/** The lower of two bounds, each unit apart. */
export function lowerBounds(a: CallBounds, b: CallBounds): CallBounds {
  const min = (x: bigint | undefined, y: bigint | undefined) => (x === undefined ? y : y === undefined || x < y ? x : y)
  return { nanoUsd: min(a.nanoUsd, b.nanoUsd), msat: min(a.msat, b.msat) }
}

/** What is left of a call's bounds after it paid `spent`. */
export function remainingBounds(
  bounds: CallBounds,
  spent: { nanoUsd?: bigint | undefined; msat?: bigint | undefined },
): CallBounds {
  const less = (bound: bigint | undefined, amount: bigint | undefined) =>
    bound === undefined ? undefined : bound - (amount ?? 0n)
  return { nanoUsd: less(bounds.nanoUsd, spent.nanoUsd), msat: less(bounds.msat, spent.msat) }
}

/** The caps after validation, ready to judge offers. */
export type Policy = {
  readonly rules: readonly BudgetRule[]
  /** `undefined` when the host may be paid, else the refusal. */
  checkHost(url: URL): PayfetchError | undefined
  /**
   * The refusal, if the caps forbid the offer; else its USD value when it has one. `fee` (the
   * signer's worst-case fee, in the offer's units) counts on top of the amount.
   */
  judge(
    offer: Offer,
    options?: { bounds?: CallBounds | undefined; fee?: bigint | undefined; signal?: AbortSignal | undefined },
  ): Promise<{ refusal?: PayfetchError | undefined; nanoUsd?: bigint | undefined }>
  /**
   * What paying the offer charges to each budget.
   *
   * @throws {PayfetchError} `UNPRICEABLE` when a USD budget applies to an offer with no USD value.
   */
  charges(offer: Offer, url: URL, nanoUsd: bigint | undefined): Charge[]
}

const paymentFlows: readonly PaymentFlow[] = ['authorization', 'upfront', 'escrow']
const defaultPerRequestUsd = '0.10'
const defaultPerRequestSats = 100n

/** Validates the caps once, so a bad option fails at creation rather than at the first 402. */
export function createPolicy(caps: Caps = {}): Policy {
  const usdText = caps.perRequest?.usd ?? defaultPerRequestUsd
  const perRequestNanoUsd = toNanoUsd(parseDecimal(usdText, 'caps.perRequest.usd'))
  const perRequestMsat = toSats(caps.perRequest?.sats ?? defaultPerRequestSats) * 1000n
  const ratesTimeoutMs = caps.ratesTimeoutMs ?? 5_000
  if (!Number.isSafeInteger(ratesTimeoutMs) || ratesTimeoutMs < 1)
    throw invalid('caps.ratesTimeoutMs must be a positive integer')
  const rules = parseBudgets(caps.budgets)
  const flows = new Set<PaymentFlow>(['authorization'])
  for (const flow of caps.flows ?? []) {
    if (!paymentFlows.includes(flow)) throw invalid('caps.flows lists authorization, upfront or escrow')
    flows.add(flow)
  }
  for (const allowance of caps.assets ?? []) {
    const known = findKnownAsset(allowance.network, allowance.asset)
    if (allowance.maxAmount !== undefined && (typeof allowance.maxAmount !== 'bigint' || allowance.maxAmount < 0n))
      throw invalid('caps.assets[].maxAmount must be a bigint of atomic units', allowance)
    // BTC over Lightning has its own per-request limit (perRequest.sats), as when caps.assets is absent.
    if (!known?.usdPar && known?.symbol !== 'BTC' && allowance.maxAmount === undefined && !caps.rates)
      throw invalid(
        'An asset payfetch cannot value in USD needs a maxAmount (bigint, atomic units) or caps.rates',
        allowance,
      )
  }

  async function judge(
    quoted: Offer,
    {
      bounds = {},
      fee = 0n,
      signal,
    }: { bounds?: CallBounds | undefined; fee?: bigint | undefined; signal?: AbortSignal | undefined } = {},
  ) {
    const details = fee > 0n ? { ...describeOffer(quoted), fee: fee.toString() } : describeOffer(quoted)
    const offer = { ...quoted, amount: quoted.amount + fee }
    if (offer.flow && !flows.has(offer.flow))
      return {
        refusal: new PayfetchError(
          'FLOW_NOT_ALLOWED',
          `The offer's payment flow is ${offer.flow}: it settles before the server does the work; allow it in caps.flows.`,
          { details },
        ),
      }
    if (caps.networks && !caps.networks.includes(offer.network))
      return {
        refusal: new PayfetchError('NETWORK_NOT_ALLOWED', `Network ${offer.network} is not in caps.networks.`, {
          details,
        }),
      }
    const known = findKnownAsset(offer.network, offer.asset.id)
    const allowance = caps.assets?.find(
      (entry) => entry.network === offer.network && sameAsset(offer.network, entry.asset, offer.asset.id),
    )
    if (caps.assets ? !allowance : !known)
      return {
        refusal: new PayfetchError(
          'ASSET_NOT_ALLOWED',
          `Asset ${offer.asset.id} on ${offer.network} is not allowed; list it in caps.assets.`,
          { details },
        ),
      }
    if (allowance?.maxAmount !== undefined && offer.amount > allowance.maxAmount)
      return {
        refusal: capExceeded(
          `Offer of ${offer.amount} atomic units exceeds the asset limit of ${allowance.maxAmount}.`,
          details,
          { limit: allowance.maxAmount.toString() },
        ),
      }
    const msatByCall = bounds.msat !== undefined && bounds.msat < perRequestMsat
    const msatLimit = msatByCall ? (bounds.msat as bigint) : perRequestMsat
    if (known?.symbol === 'BTC' && offer.amount > msatLimit)
      return {
        refusal: capExceeded(
          `Offer of ${offer.amount} msat exceeds the ${msatByCall ? 'call' : 'per-request'} limit of ${msatLimit / 1000n} sats.`,
          details,
          { limitSats: (msatLimit / 1000n).toString() },
        ),
      }
    let nanoUsd: bigint | undefined
    try {
      const decimals = offer.asset.decimals ?? allowance?.decimals
      nanoUsd = await valueInNanoUsd({ ...offer, asset: { ...offer.asset, decimals } }, caps.rates, {
        timeoutMs: ratesTimeoutMs,
        signal,
      })
    } catch (cause) {
      if (signal?.aborted) throw cause
      return {
        refusal: new PayfetchError(
          'UNPRICEABLE',
          `The rate for ${offer.asset.id} on ${offer.network} could not be read.`,
          { details, cause },
        ),
      }
    }
    const callLimit = bounds.nanoUsd
    if (nanoUsd === undefined) {
      // Unvalued payments pass only under a limit in their own unit.
      if (callLimit !== undefined || (allowance?.maxAmount === undefined && known?.symbol !== 'BTC'))
        return {
          refusal: new PayfetchError(
            'UNPRICEABLE',
            `${offer.asset.id} on ${offer.network} has no USD value; pass caps.rates or a maxAmount.`,
            { details },
          ),
        }
      return {}
    }
    const byCall = callLimit !== undefined && callLimit < perRequestNanoUsd
    const limit = byCall ? (callLimit as bigint) : perRequestNanoUsd
    const limitText = byCall ? formatNanoUsd(callLimit > 0n ? (callLimit as bigint) : 0n) : usdText
    if (nanoUsd > limit)
      return {
        refusal: capExceeded(
          `Offer of $${formatNanoUsd(nanoUsd)} exceeds the ${byCall ? 'call' : 'per-request'} limit of $${limitText}.`,
          details,
          { limitUsd: limitText },
        ),
      }
    return { nanoUsd }
  }

  return {
    rules,
    checkHost: (url) => checkHost(url, caps.hosts),
    judge,
    charges: (offer, url, nanoUsd) =>
      chargesFor(rules, { network: offer.network, asset: offer.asset.id, amount: offer.amount, url, nanoUsd }),
  }
}

function checkHost(url: URL, hosts: Caps['hosts']): PayfetchError | undefined {
  const denied = hosts?.deny?.some((pattern) => hostMatches(url, pattern)) ?? false
  const allowed = hosts?.allow?.some((pattern) => hostMatches(url, pattern)) ?? true
  if (denied || !allowed)
    return new PayfetchError('HOST_NOT_ALLOWED', `Paying ${url.host} is not allowed by caps.hosts.`, {
      details: { host: url.host },
    })
  return undefined
}

/** Nano-dollars as a short decimal: `100000000n` → `'0.1'`. */
export function formatNanoUsd(nanoUsd: bigint): string {
  const text = nanoUsd.toString().padStart(10, '0')
  const fraction = text.slice(-9).replace(/0+$/, '')
  return fraction ? `${text.slice(0, -9)}.${fraction}` : text.slice(0, -9)
}

function toSats(value: bigint | number, name = 'caps.perRequest.sats'): bigint {
  if (typeof value === 'bigint' ? value < 0n : !Number.isSafeInteger(value) || value < 0)
    throw invalid(`${name} must be a whole number of sats`)
  return BigInt(value)
}

function capExceeded(message: string, details: Record<string, string>, limit: Record<string, string>): PayfetchError {
  return new PayfetchError('CAP_EXCEEDED', message, { details: { ...details, ...limit } })
}

function invalid(message: string, details: { network?: string; asset?: string } = {}): PayfetchError {
  return new PayfetchError('INVALID_OPTIONS', `${message}.`, {
    details: { network: details.network, asset: details.asset },
  })
}
