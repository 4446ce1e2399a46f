import { createWriteStream } from 'node:fs'
import { access, constants, readFile, stat } from 'node:fs/promises'
import { dirname } from 'node:path'
import { createInterface } from 'node:readline/promises'
import { Readable, type Writable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { parseArgs } from 'node:util'
import {
  type ApprovalRequest,
  createPayingFetch,
  getReceipt,
  type PayfetchEvent,
  type PayingFetchOptions,
  type Receipt,
} from 'payfetch'
import { type ConfirmMode, createPayfetchTools, type ToolFailure, toToolFailure } from 'payfetch/tools'
import { exitCodeFor, exitCodes } from './exitCodes.js'
import { printable } from './printable.js'
import { runTool } from './runTool.js'

/** Where the CLI writes and reads; replaced in tests. */
export type Io = {
  readonly stdout: NodeJS.WritableStream
  readonly stderr: NodeJS.WritableStream
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean }
  readonly interactive: boolean
}

export const fetchFlags = {
  request: { type: 'string', short: 'X' },
  header: { type: 'string', short: 'H', multiple: true },
  data: { type: 'string', short: 'd' },
  json: { type: 'string' },
  include: { type: 'boolean', short: 'i' },
  output: { type: 'string', short: 'o' },
  fail: { type: 'boolean', short: 'f' },
  silent: { type: 'boolean', short: 's' },
  verbose: { type: 'boolean', short: 'v' },
  'max-usd': { type: 'string' },
  'max-sats': { type: 'string' },
  'max-time': { type: 'string', short: 'm' },
  'dry-run': { type: 'boolean' },
  yes: { type: 'boolean', short: 'y' },
  protocol: { type: 'string' },
  'idempotency-key': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const

export class UsageError extends Error {
  override name = 'UsageError'
}

type Request = { url: string; method: string; headers: Record<string, string>; body?: string | undefined }

/** `payfetch [flags] <url>`: body to stdout (or `-o`), payment lines and progress to stderr. */
export async function fetchCommand(
  argv: readonly string[],
  payfetch: PayingFetchOptions,
  confirm: ConfirmMode,
  io: Io,
): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...argv], options: fetchFlags, allowPositionals: true })
  const url = positionals[0]
  if (!url || positionals.length > 1) throw new UsageError('Give exactly one URL.')
  const request = await buildRequest(url, values, io)
  // One key for the call, so an unknown outcome can be found again and finished, never paid twice.
  request.headers['idempotency-key'] ??= values['idempotency-key'] ?? crypto.randomUUID()
  const log = (line: string) => {
    // Every line may quote the server (a reason, a receipt): its control characters are shown, not run.
    if (!values.silent) io.stderr.write(`payfetch: ${printable(line)}\n`)
  }
  const limits = {
    maxUsd: values['max-usd'],
    maxSats: values['max-sats'] === undefined ? undefined : wholeNumber(values['max-sats'], '--max-sats'),
    prefer: values.protocol === undefined || values.protocol === 'auto' ? undefined : [protocolFlag(values.protocol)],
  }
  if (limits.maxUsd !== undefined && !/^[0-9]{1,30}(\.[0-9]{1,30})?$/.test(limits.maxUsd))
    throw new UsageError("--max-usd must be a decimal amount like '0.05'.")
  const timeoutMs = values['max-time'] === undefined ? undefined : maxTime(values['max-time'])
  // Checked before paying: a paid answer with nowhere to go would be lost.
  if (values.output !== undefined && !values['dry-run']) await assertWritable(values.output)

  if (values['dry-run']) {
    const tools = createPayfetchTools({ payfetch })
    const result = await runTool(tools, 'quote_fetch', {
      url: request.url,
      method: request.method,
      headers: request.headers,
      ...(request.body === undefined ? {} : { body: request.body }),
      ...(limits.maxUsd === undefined ? {} : { max_usd: Number(limits.maxUsd) }),
      ...(limits.maxSats === undefined ? {} : { max_sats: limits.maxSats }),
      ...(limits.prefer ? { prefer: limits.prefer } : {}),
    })
    if (!result.ok) return failed(result.error, log)
    io.stdout.write(`${JSON.stringify(result.output, null, 2)}\n`)
    return exitCodes.ok
  }

  let declined: ToolFailure | undefined
  const approve = async (approval: ApprovalRequest): Promise<boolean> => {
    // A channel's deposit is the money at risk: the threshold judges it, not the price.
    const atRisk = approval.deposit ? approval.deposit.usd : approval.usd
    if (values.yes || !needsConfirmation(confirm, atRisk, io.interactive)) return true
    if (!io.interactive) {
      declined = {
        code: 'CONFIRMATION_REQUIRED',
        message: 'This payment needs confirmation (PAYFETCH_CONFIRM); pass -y to pay it. Nothing was paid.',
        paid: false,
      }
      return false
    }
    const prompt = createInterface({ input: io.stdin, output: io.stderr })
    try {
      const answer = await prompt.question(
        printable(`payfetch: pay ${describeAmount(approval)} to ${approval.offer.payTo}? [y/N] `),
      )
      if (/^y(es)?$/i.test(answer.trim())) return true
    } finally {
      prompt.close()
    }
    declined = { code: 'APPROVAL_DENIED', message: 'Payment declined. Nothing was paid.', paid: false }
    return false
  }
  let proofSent = false
  const perRequest = payfetch.caps?.perRequest
  const fetchPaid = createPayingFetch({
    ...payfetch,
    caps: {
      ...payfetch.caps,
      perRequest: {
        ...perRequest,
        sats:
          limits.maxSats === undefined ? perRequest?.sats : Math.min(Number(perRequest?.sats ?? 100), limits.maxSats),
      },
    },
    prefer: limits.prefer ?? payfetch.prefer,
    approve: (() => {
      const own = payfetch.approve
      return own ? async (request: ApprovalRequest) => (await approve(request)) && (await own(request)) : approve
    })(),
    approveTimeoutMs: 600_000,
    onEvent: (event) => {
      if (event.type === 'payment.sent') proofSent = true
      if (values.verbose) log(describeEvent(event))
    },
  })
  const call = limits.maxUsd === undefined ? fetchPaid : fetchPaid.withLimits({ maxUsd: limits.maxUsd })
  let response: Response
  // Ctrl-C ends the call through payfetch, so a proof already sent stays pending and is named; a
  // second Ctrl-C ends the process at once.
  const interrupt = new AbortController()
  const onInterrupt = () => {
    interrupt.abort(new Error('Interrupted (SIGINT).'))
    process.once('SIGINT', () => process.exit(exitCodes.interrupted))
  }
  process.once('SIGINT', onInterrupt)
  try {
    if (values.verbose) log(`${request.method} ${request.url}`)
    response = await call(request.url, {
      method: request.method,
      headers: request.headers,
      ...(request.body === undefined ? {} : { body: request.body }),
      signal:
        timeoutMs === undefined
          ? interrupt.signal
          : AbortSignal.any([interrupt.signal, AbortSignal.timeout(timeoutMs)]),
    })
  } catch (error) {
    const failure = declined && !proofSent ? declined : toToolFailure(error, proofSent)
    const pending = failure.paid === 'unknown' ? await findPending(fetchPaid, request.headers) : undefined
    if (interrupt.signal.aborted && !pending) {
      log('interrupted; nothing was paid.')
      return exitCodes.interrupted
    }
    return failed(pending ? { ...failure, pending_id: pending } : failure, log)
  } finally {
    process.off('SIGINT', onInterrupt)
  }
  const receipt = getReceipt(response)
  if (receipt) log(describeReceipt(receipt))
  // The proof left and the answer (an error status, no settlement report) neither settled nor
  // refused it: the payment stays pending, and the exit code says money may have moved.
  const pendingId = proofSent && !receipt ? await findPending(fetchPaid, request.headers) : undefined
  const unsettled: ToolFailure | undefined = pendingId
    ? {
        code: 'PAYMENT_OUTCOME_UNKNOWN',
        message: `The proof was sent and the server answered ${response.status} without confirming the payment; it may have gone through.`,
        paid: 'unknown',
        pending_id: pendingId,
      }
    : undefined
  if (values.fail && response.status >= 400) {
    await response.body?.cancel().catch(() => {})
    log(`the server answered ${response.status}`)
    return unsettled ? failed(unsettled, log) : exitCodes.httpError
  }
  try {
    await writeResponse(response, values, io)
  } catch (error) {
    if (error instanceof OutputFailed) {
      const where = values.output ?? 'stdout'
      log(
        receipt
          ? `the paid answer could not be written to ${where} (${error.code}); the payment went through (above), nothing is pending.`
          : `the answer could not be written to ${where} (${error.code}).`,
      )
      return exitCodes.writeError
    }
    const cut = toToolFailure(error, false)
    if (!receipt) return failed(unsettled ?? cut, log)
    // Paid and kept in the ledger: nothing to resume, but the body is not whole.
    log(`${cut.code}: the paid answer stopped before its end; the payment went through (above), nothing is pending.`)
    return exitCodes.partial
  }
  return unsettled ? failed(unsettled, log) : exitCodes.ok
}

async function buildRequest(
  url: string,
  values: { request?: string; header?: string[]; data?: string; json?: string },
  io: Io,
): Promise<Request> {
  const headers: Record<string, string> = {}
  for (const line of values.header ?? []) {
    const colon = line.indexOf(':')
    if (colon < 1) throw new UsageError(`-H needs "Name: value", got "${line.slice(0, 40)}".`)
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  if (values.data !== undefined && values.json !== undefined) throw new UsageError('Use either -d or --json, not both.')
  let body: string | undefined
  const source = values.data ?? values.json
  if (source !== undefined) body = source.startsWith('@') ? await readSource(source.slice(1), io) : source
  if (values.json !== undefined) {
    headers['content-type'] ??= 'application/json'
    headers.accept ??= 'application/json'
  } else if (values.data !== undefined) headers['content-type'] ??= 'application/x-www-form-urlencoded'
  const method = (values.request ?? (body === undefined ? 'GET' : 'POST')).toUpperCase()
  if (!/^https?:\/\//.test(url)) throw new UsageError('The URL must start with http:// or https://.')
  // fetch would refuse it as a vague network error, after -v printed the password.
  if (URL.canParse(url) && (new URL(url).username !== '' || new URL(url).password !== ''))
    throw new UsageError('The URL may not hold a user name or password; send credentials with -H.')
  return { url, method, headers, body }
}

async function readSource(path: string, io: Io): Promise<string> {
  if (path === '-') {
    const chunks: Buffer[] = []
    for await (const chunk of io.stdin) chunks.push(Buffer.from(chunk as Buffer))
    return Buffer.concat(chunks).toString('utf8')
  }
  try {
    return await readFile(path, 'utf8')
  } catch {
    throw new UsageError(`Cannot read ${path}.`)
  }
}

/** The answer's destination failed (a closed pipe, a full disk): what came was read, not kept. */
class OutputFailed extends Error {
  constructor(readonly code: string) {
    super(`output failed: ${code}`)
  }
}

async function assertWritable(path: string): Promise<void> {
  const existing = await stat(path).catch(() => undefined)
  const writable = existing
    ? !existing.isDirectory() &&
      (await access(path, constants.W_OK).then(
        () => true,
        () => false,
      ))
    : await access(dirname(path), constants.W_OK).then(
        () => true,
        () => false,
      )
  if (!writable) throw new UsageError(`Cannot write ${path}; nothing was sent.`)
}

async function writeResponse(response: Response, values: { include?: boolean; output?: string }, io: Io) {
  const sink: NodeJS.WritableStream = values.output ? createWriteStream(values.output) : io.stdout
  // A closed pipe (`| head -c 1`) or a full disk: an 'error' event no one listens to would end the
  // process with a trace, and a write waiting for 'drain' would wait for good.
  let failure: NodeJS.ErrnoException | undefined
  const failed = new Promise<void>((resolve) => {
    sink.once('error', (error: NodeJS.ErrnoException) => {
      failure = error
      resolve()
    })
  })
  const write = async (chunk: string | Uint8Array) => {
    if (failure) return
    if (!sink.write(chunk)) await Promise.race([new Promise((resolve) => sink.once('drain', resolve)), failed])
  }
  try {
    if (values.include) {
      await write(`HTTP ${response.status} ${response.statusText}\r\n`)
      for (const [name, value] of response.headers) await write(`${name}: ${value}\r\n`)
      await write('\r\n')
    }
    if (response.body) {
      const body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream)
      for await (const chunk of body) {
        await write(chunk as Uint8Array)
        if (failure) {
          body.destroy()
          break
        }
      }
    }
    if (values.output && !failure) {
      // The last bytes reach the file (or fail, as on a full disk) only after end().
      sink.end()
      await finished(sink as Writable).catch((error: NodeJS.ErrnoException) => {
        failure ??= error
      })
    }
  } finally {
    // An -o file that failed is let go; stdout stays as it is.
    if (values.output && failure) (sink as ReturnType<typeof createWriteStream>).destroy()
  }
  if (failure) throw new OutputFailed(failure.code ?? 'write error')
}

function failed(failure: ToolFailure, log: (line: string) => void): number {
  log(`${failure.code}: ${failure.message}${failure.pending_id ? ` (payfetch resume ${failure.pending_id})` : ''}`)
  return exitCodeFor(failure)
}

async function findPending(
  fetchPaid: { pendingPayments(): Promise<{ id: string; idempotencyKey: string }[]> },
  headers: Record<string, string>,
) {
  const key = headers['idempotency-key']
  if (!key) return undefined
  return (await fetchPaid.pendingPayments()).find((entry) => entry.idempotencyKey === key)?.id
}

function needsConfirmation(mode: ConfirmMode, usd: string | undefined, interactive: boolean): boolean {
  if (mode === 'never') return false
  if (mode === 'auto') return interactive
  if (mode === 'always') return true
  return usd === undefined || nanoUsd(usd) > nanoUsd(mode.aboveUsd)
}

// Decimal dollars compared exactly, as payfetch compares limits.
function nanoUsd(text: string): bigint {
  const [whole = '0', fraction = ''] = text.split('.')
  return BigInt(whole) * 1_000_000_000n + BigInt(fraction.padEnd(9, '0').slice(0, 9))
}

function describeAmount(approval: ApprovalRequest): string {
  const { offer } = approval
  const asset = offer.asset.symbol ?? offer.asset.id
  const units = `${offer.amount} atomic ${asset}`
  const price = approval.usd ? `$${approval.usd} (${units})` : units
  const deposit = approval.deposit
  if (!deposit) return price
  const depositUnits = `${deposit.amount} atomic ${asset}`
  return `${price}, after depositing ${deposit.usd ? `$${deposit.usd} (${depositUnits})` : depositUnits} into a payment channel,`
}

function describeReceipt(receipt: Receipt): string {
  return `paid ${receipt.amount} atomic units of ${receipt.asset} on ${receipt.network} via ${receipt.protocol} to ${receipt.payTo}${receipt.fee ? ` (fee ${receipt.fee})` : ''}${receipt.reference ? `; reference ${receipt.reference}` : ''}`
}

function describeEvent(event: PayfetchEvent): string {
  switch (event.type) {
    case 'challenge':
      return `402 with ${event.offers.length} offer(s): ${event.offers.map((offer) => `${offer.protocol} ${offer.amount} on ${offer.network}`).join(', ')}`
    case 'offer.chosen':
      return `paying ${event.offer.protocol} ${event.offer.amount} on ${event.offer.network} with ${event.signer}${event.signed ? `; the server's signed offer ${event.signed.verified ? `verified (${event.signed.signer})` : `did not verify: ${event.signed.reason}`}` : ''}`
    case 'payment.sent':
      return 'proof sent; waiting for the paid answer'
    case 'receipt':
      return 'paid answer received'
    case 'refusal':
      return `refused: ${event.error.code}`
    case 'payment.failed':
      return `payment failed: ${event.error.code}`
    case 'store.failed':
      return `bookkeeping failed: ${event.error.shortMessage}`
    case 'fee.exceeded':
      return `the wallet's fee ${event.fee} was above its limit ${event.limit}`
    case 'approval.sent':
      return `approved ${event.spender} to move ${event.amount} of ${event.token} on ${event.network}; transaction ${event.transaction}`
    case 'channel.deposit':
      return `channel ${event.channelId}: deposited ${event.amount} atomic units of ${event.token} on ${event.network} (${event.cumulative ?? event.amount} deposited in all)`
    case 'channel.voucher':
      return `channel ${event.channelId}: voucher for ${event.amount} atomic units (${event.cumulative ?? event.amount} charged in all); no transaction`
    case 'channel.refund':
      return `channel ${event.channelId}: refunded ${event.amount} atomic units${event.detail ? `; transaction ${event.detail}` : ''}`
    case 'channel.unusable':
      return `channel ${event.channelId} set aside: ${event.detail}`
    case 'siwx.accepted':
      return `signed in as ${event.address} (paid before): nothing paid`
    case 'siwx.declined':
      return `signed in as ${event.address}, but the server asks for payment again`
    case 'siwx.skipped':
      return `did not sign in: ${event.reason}`
  }
}

function wholeNumber(text: string, flag: string): number {
  if (!/^[0-9]{1,15}$/.test(text)) throw new UsageError(`${flag} must be a whole number.`)
  return Number(text)
}

/** `-m` as curl reads it: seconds, decimals allowed; 0 means no limit. */
function maxTime(text: string): number | undefined {
  if (!/^[0-9]{1,9}(\.[0-9]{1,3})?$/.test(text))
    throw new UsageError('--max-time must be a number of seconds, like 30 or 2.5.')
  return Math.round(Number(text) * 1000) || undefined
}

function protocolFlag(text: string): string {
  if (!['l402', 'x402', 'payment'].includes(text))
    throw new UsageError('--protocol must be auto, x402, l402 or payment.')
  return text
}
