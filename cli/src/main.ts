import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { createPayingFetch } from 'payfetch'
import { createPayfetchTools, type ToolFailure } from 'payfetch/tools'
import { listChannels } from './channelsCommand.js'
import { exitCodeFor, exitCodes } from './exitCodes.js'
import { fetchCommand, fetchFlags, type Io, UsageError } from './fetchCommand.js'
import { fileIdempotency } from './fileIdempotency.js'
import { payingSetup } from './payingOptions.js'
import { printable } from './printable.js'
import { refundCommand, refundFlags } from './refundCommand.js'
import { runTool } from './runTool.js'
import { readSettings, SettingsError } from './settings.js'
import { withDiscovery } from './withDiscovery.js'

const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string })
  .version

const usage = `payfetch ${version}: fetch a URL, paying HTTP 402 challenges (x402, L402) within your limits.

Usage:
  payfetch [flags] <url>        send a request; pay if asked; body on stdout, payments on stderr
  payfetch quote [flags] <url>  the offers of a 402 and what payfetch thinks of each (pays nothing)
  payfetch report               spent, reserved and unknown amounts, and budgets
  payfetch pending              payments whose outcome is unknown
  payfetch resume <id>          finish a pending payment (same proof, never a new payment)
  payfetch channels             open payment channels (x402 batch-settlement) kept in the state
  payfetch refund <url> [--amount ATOMIC]
                                close this payer's channel with that server; the rest comes back on chain
  payfetch mcp                  run as an MCP server over stdio

Flags: -X METHOD, -H "Name: value" (repeatable), -d DATA|@file|@-, --json DATA|@file|@-, -i, -o FILE,
  -f, -s, -v, -m SECONDS (decimals; 0: no limit), --max-usd USD, --max-sats SATS, --dry-run, -y, --protocol auto|x402|l402|payment,
  --idempotency-key KEY; -h/--help and --version anywhere print this or the version, and nothing is sent

Keys and limits come from the environment only (PAYFETCH_EVM_PRIVATE_KEY, PAYFETCH_SOLANA_SECRET_KEY,
PAYFETCH_NWC_URL, PAYFETCH_MAX_USD, PAYFETCH_MAX_SATS, PAYFETCH_BUDGET_USD, PAYFETCH_CONFIRM,
PAYFETCH_EVM_CHANNELS=on, ...).

Exit codes: 0 ok, 2 usage or settings, 3 refused (nothing paid), 4 failed (nothing paid),
  5 outcome unknown (see payfetch pending), 18 paid but the body stopped before its end, 22 HTTP error with -f,
  23 the answer could not be written (stdout closed, -o failed; a payment is reported on stderr),
  130 interrupted before any proof left (Ctrl-C after it is 5).
`

/** Runs one command line; resolves to the exit code. Never prints a stack trace or a secret. */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  const [command, ...rest] = argv
  const asked = askedFor(argv)
  if (command === undefined || asked.help) {
    io.stdout.write(usage)
    return command === undefined ? exitCodes.usage : exitCodes.ok
  }
  if (asked.version) {
    io.stdout.write(`${version}\n`)
    return exitCodes.ok
  }
  if (command === 'mcp') return runMcp(env, io)
  let setup: Awaited<ReturnType<typeof payingSetup>> | undefined
  try {
    setup = await payingSetup(readSettings(env))
    const settings = readSettings(env)
    switch (command) {
      case 'quote':
        return await fetchCommand([...rest, '--dry-run'], setup.options, settings.confirm, io)
      case 'report':
      case 'pending': {
        const tools = createPayfetchTools({ payfetch: setup.options })
        const result = await runTool(tools, command === 'report' ? 'spend_report' : 'pending_payments', {})
        if (!result.ok) return report(result.error, io)
        io.stdout.write(`${JSON.stringify(result.output, null, 2)}\n`)
        return exitCodes.ok
      }
      case 'channels': {
        const channels = await listChannels(setup)
        io.stdout.write(`${JSON.stringify({ channels }, null, 2)}\n`)
        return exitCodes.ok
      }
      case 'refund':
        return await refundCommand(
          rest,
          { evmAccount: setup.evmAccount, sessions: setup.sessions, channels: settings.evmChannels },
          io,
        )
      case 'resume': {
        const id = rest[0]
        if (!id) throw new UsageError('payfetch resume needs the id of a pending payment (see payfetch pending).')
        const fetchPaid = createPayingFetch(setup.options)
        const pending = (await fetchPaid.pendingPayments()).find((entry) => entry.id === id)
        if (!pending)
          return report({ code: 'NOT_FOUND', message: `No pending payment has the id ${id}.`, paid: false }, io)
        const tools = createPayfetchTools({ payfetch: setup.options, maxBodyChars: 10_000_000 })
        const result = await runTool(tools, 'resume_payment', { id })
        if (!result.ok) return report(result.error, io)
        io.stdout.write((result.output as { body: string }).body)
        return exitCodes.ok
      }
      default:
        return await fetchCommand(argv, setup.options, settings.confirm, io)
    }
  } catch (error) {
    if (error instanceof SettingsError || error instanceof UsageError || isParseArgsError(error)) {
      // node:util's parseArgs explains itself over several lines: one line here.
      io.stderr.write(`payfetch: ${printable((error as Error).message.replace(/\s*\n\s*/g, ' '))}\n`)
      return exitCodes.usage
    }
    return report({ code: 'INTERNAL', message: 'Unexpected failure; nothing more is known.', paid: 'unknown' }, io)
  } finally {
    await setup?.close()
  }
}

async function runMcp(env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  // The MCP SDK loads only for this command.
  const [{ StdioServerTransport }, { createMcpServer }] = await Promise.all([
    import('@modelcontextprotocol/sdk/server/stdio.js'),
    import('./mcpServer.js'),
  ])
  let server: ReturnType<typeof createMcpServer>
  let release = async () => {}
  try {
    const settings = readSettings(env)
    const setup = await payingSetup(settings)
    release = setup.close
    const tools = createPayfetchTools({
      payfetch: setup.options,
      confirm: settings.confirm,
      services: settings.discoveryUrl
        ? withDiscovery(setup.services, settings.discoveryUrl, (line) => io.stderr.write(`${printable(line)}\n`))
        : setup.services,
      env,
      idempotency: await fileIdempotency(settings.stateDir, settings.redisUrl !== undefined),
    })
    server = createMcpServer(tools.tools, { version })
    io.stderr.write(
      `payfetch mcp ${version}: ${setup.signers.length ? `paying with ${setup.signers.join(', ')}` : 'no key set: quotes only'}${settings.evmChannels ? '; channels on' : ''}; confirm=${typeof settings.confirm === 'string' ? settings.confirm : `above:${settings.confirm.aboveUsd}`}\n`,
    )
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error
    // The host shows the model (and the log) why nothing can be paid, and which variable to fix.
    io.stderr.write(`payfetch mcp: ${printable(error.message)}\n`)
    const failure: ToolFailure = { code: 'SETTINGS_INVALID', message: error.message, paid: false }
    server = createMcpServer(createPayfetchTools({ payfetch: { signers: [] } }).tools, { version, broken: failure })
  }
  await server.connect(new StdioServerTransport())
  return new Promise<number>((resolve) => {
    // The host closed the pipe: let go of Redis (if any) so the process can end.
    server.server.onclose = () => void release().finally(() => resolve(exitCodes.ok))
  })
}

/**
 * Whether `--help`/`-h` or `--version` appear anywhere in the arguments (after a URL, in `-sh`, after
 * a subcommand), read as parseArgs reads flags (a flag's value is no flag; nothing after `--` is):
 * they answer at once, before any request could be sent or paid. Loose, so a flag error still names
 * itself later.
 */
function askedFor(argv: readonly string[]): { help?: unknown; version?: unknown } {
  return parseArgs({
    args: [...argv],
    options: { ...fetchFlags, ...refundFlags },
    strict: false,
    allowPositionals: true,
  }).values
}

function report(failure: ToolFailure, io: Io): number {
  io.stderr.write(`payfetch: ${printable(`${failure.code}: ${failure.message}`)}\n`)
  return exitCodeFor(failure)
}

function isParseArgsError(error: unknown): boolean {
  return (
    typeof (error as { code?: unknown })?.code === 'string' &&
    (error as { code: string }).code.startsWith('ERR_PARSE_ARGS')
  )
}
