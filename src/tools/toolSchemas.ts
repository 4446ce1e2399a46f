import * as z from 'zod/mini'

// One schema per tool serves LangChain, the AI SDK and MCP. Optional fields carry no `.default()`:
// LangChain shows defaulted fields to the model as required, so defaults live in the handlers.

const maxUsd = z.optional(
  z
    .number()
    .check(z.minimum(0), z.describe('The most this call may pay, in US dollars. Can only lower the configured limit.')),
)
const maxSats = z.optional(
  z
    .int()
    .check(
      z.minimum(0),
      z.describe('The most this call may pay over Lightning, in satoshis. Can only lower the configured limit.'),
    ),
)
const idempotencyKey = z.optional(
  z
    .string()
    .check(
      z.minLength(1),
      z.maxLength(200),
      z.describe('Reuse the same key when retrying the same request: it is paid at most once.'),
    ),
)
const confirmQuoteId = z.optional(
  z.string().check(z.describe('The quote_id from a CONFIRMATION_REQUIRED answer, to pay what was quoted.')),
)
const timeoutMs = z.optional(
  z.int().check(z.minimum(1000), z.maximum(300_000), z.describe('Give up after this many ms. Default 30000.')),
)

/** Input of `pay_fetch`. */
export const payFetchInput = z.object({
  url: z.string().check(z.describe('The http(s) URL to request.')),
  method: z.optional(z.string().check(z.describe('HTTP method. Default GET.'))),
  headers: z.optional(z.record(z.string(), z.string()).check(z.describe('Request headers.'))),
  body: z.optional(z.string().check(z.describe('Request body, as text.'))),
  max_usd: maxUsd,
  max_sats: maxSats,
  prefer: z.optional(
    z
      .array(z.enum(['l402', 'x402', 'payment']))
      .check(z.describe('Protocols in order of preference when the server offers several, e.g. ["l402"].')),
  ),
  timeout_ms: timeoutMs,
  idempotency_key: idempotencyKey,
  reuse_session: z.optional(
    z.boolean().check(z.describe('Send a credential paid earlier (L402 token, x402 sign-in). Default true.')),
  ),
  confirm_quote_id: confirmQuoteId,
})

const payment = z.object({
  protocol: z.string(),
  network: z.string(),
  asset: z.string(),
  symbol: z.optional(z.string()),
  amount: z.string().check(z.describe('Atomic units of the asset, as a decimal string.')),
  amount_usd: z.optional(z.string()),
  fee: z.optional(z.string()),
  deposit: z.optional(
    z
      .string()
      .check(
        z.describe(
          'A payment channel deposit this call made first (atomic units; one transaction); amount is the charge.',
        ),
      ),
  ),
  payee: z.optional(z.string()),
  reference: z.optional(z.string().check(z.describe('Transaction hash, signature or Lightning payment hash.'))),
})

const job = z.object({
  url: z.string().check(z.describe('Where the result will be: poll it later with pay_fetch (GET).')),
  status: z.number(),
  retry_after_ms: z.optional(z.number()),
  reason: z.string(),
})

/** Output of `pay_fetch` and `call_service` (and `resume_payment`). */
export const payFetchOutput = z.object({
  ok: z.boolean().check(z.describe('The final status is 2xx.')),
  status: z.number(),
  paid: z.boolean(),
  payment: z.optional(payment),
  content_type: z.string(),
  body: z.string(),
  body_encoding: z.optional(z.literal('base64')),
  body_truncated: z.boolean(),
  job: z.optional(job),
  idempotent_replay: z.optional(z.boolean()),
})

/** Input of `quote_fetch`. */
export const quoteFetchInput = z.object({
  url: payFetchInput.shape.url,
  method: payFetchInput.shape.method,
  headers: payFetchInput.shape.headers,
  body: payFetchInput.shape.body,
  max_usd: maxUsd,
  max_sats: maxSats,
  prefer: payFetchInput.shape.prefer,
  timeout_ms: timeoutMs,
})

/** One offer as `quote_fetch` and `list_services` show it. */
export const quotedOffer = z.object({
  protocol: z.string(),
  scheme: z.string(),
  network: z.string(),
  asset: z.string(),
  symbol: z.optional(z.string()),
  decimals: z.optional(z.number()),
  amount: z.string(),
  amount_usd: z.optional(z.string()),
  deposit: z.optional(
    z
      .string()
      .check(z.describe('A channel offer: the deposit paying it now makes first (atomic units; "0": none needed).')),
  ),
  payee: z.string(),
  description: z.optional(z.string()),
  expires_at: z.optional(z.string()),
  payable: z.boolean(),
  refusal: z.optional(z.object({ code: z.string(), message: z.string() })),
  signed_offer: z.optional(
    z
      .object({ verified: z.boolean(), signer: z.optional(z.string()), reason: z.optional(z.string()) })
      .check(z.describe("The check of the server's signature over this offer.")),
  ),
})

/** Output of `quote_fetch`. */
export const quoteFetchOutput = z.object({
  url: z.string(),
  status: z.number(),
  payment_required: z.boolean(),
  offers: z.array(quotedOffer),
  best: z.optional(z.number().check(z.describe('Index in offers of the one pay_fetch would pay.'))),
  sign_in_first: z.optional(
    z
      .object({ address: z.string(), network: z.string() })
      .check(
        z.describe('This address paid for the resource before: pay_fetch signs in first and pays only if refused.'),
      ),
  ),
})

/** Input of the tools that take nothing. */
export const emptyInput = z.object({})

/** Output of `spend_report`. */
export const spendReportOutput = z.object({
  budgets: z.array(
    z.object({ key: z.string(), used: z.string(), limit: z.string(), window_ms: z.optional(z.number()) }),
  ),
  totals: z.array(
    z.object({
      host: z.string(),
      network: z.string(),
      asset: z.string(),
      spent: z.string(),
      reserved: z.string(),
      unknown: z.string(),
    }),
  ),
})

/** Output of `pending_payments`. */
export const pendingPaymentsOutput = z.object({
  pending: z.array(
    z.object({
      id: z.string(),
      url: z.string(),
      method: z.string(),
      protocol: z.string(),
      network: z.string(),
      asset: z.string(),
      amount: z.string(),
      payee: z.string(),
      time: z.string(),
      /** A Lightning payment's hash: the invoice to look up in the wallet. */
      payment_hash: z.optional(z.string()),
    }),
  ),
})

/** Input of `resume_payment`. */
export const resumePaymentInput = z.object({
  // Ids are short; a longer one is a mistake (or planted text) not worth echoing back.
  id: z
    .string()
    .check(z.maxLength(200), z.describe('The id of a pending payment (pending_payments, or pending_id in an error).')),
  timeout_ms: timeoutMs,
})

/** Output of `list_services`. */
export const listServicesOutput = z.object({
  services: z.array(
    z.object({
      name: z.string(),
      description: z.optional(z.string()),
      method: z.string(),
      url: z.string(),
      status: z.optional(z.number()),
      price: z.optional(quotedOffer),
      error: z.optional(z.object({ code: z.string(), message: z.string() })),
    }),
  ),
})

/** Input of `call_service`. */
export const callServiceInput = z.object({
  service: z.string().check(z.describe('The service name from list_services.')),
  input: z.optional(
    z.string().check(z.describe('What the service should work on; the catalog puts it in the request.')),
  ),
  max_usd: maxUsd,
  max_sats: maxSats,
  timeout_ms: timeoutMs,
  idempotency_key: idempotencyKey,
  confirm_quote_id: confirmQuoteId,
})

export type PayFetchInput = z.infer<typeof payFetchInput>
export type PayFetchOutput = z.infer<typeof payFetchOutput>
export type QuoteFetchInput = z.infer<typeof quoteFetchInput>
export type QuoteFetchOutput = z.infer<typeof quoteFetchOutput>
export type QuotedOfferOutput = z.infer<typeof quotedOffer>
export type SpendReportOutput = z.infer<typeof spendReportOutput>
export type PendingPaymentsOutput = z.infer<typeof pendingPaymentsOutput>
export type ResumePaymentInput = z.infer<typeof resumePaymentInput>
export type ListServicesOutput = z.infer<typeof listServicesOutput>
export type CallServiceInput = z.infer<typeof callServiceInput>
