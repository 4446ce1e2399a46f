import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { createServer, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generatePrivateKey } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { close, encodeBase64Json, listen } from '../../examples/local-stack/http.js'
import { type Merchant, requirement, startMerchant } from '../../test/support/merchant.js'
import { cliPath } from './support/mcpClient.js'
import { runCli } from './support/runCli.js'

// The curl-like CLI against the signature-checking x402 merchant on loopback: body on stdout,
// payments and progress on stderr, one exit code per way a call can end.
let merchant: Merchant
let broken: { url: string; close(): Promise<void> }
let hostile: { url: string; close(): Promise<void> }
let dir: string
const key = generatePrivateKey()
let loseNext = false
const stalled: ServerResponse[] = []
let proofArrived = () => {}

beforeAll(async () => {
  merchant = await startMerchant(
    {
      '/report': (request, response, self) =>
        self.charge(request, response, [requirement()], () =>
          response
            .writeHead(200, { 'content-type': 'application/json', 'x-served': 'yes' })
            .end('{"report":"all quiet"}'),
        ),
      'POST /echo': (request, response, self) =>
        self.charge(request, response, [requirement()], () =>
          response.writeHead(200, { 'content-type': 'application/json' }).end(
            JSON.stringify({
              body: request.body.toString(),
              type: request.headers['content-type'],
              agent: request.headers['x-agent'] ?? null,
            }),
          ),
        ),
      '/flaky': (request, response, self) =>
        self.charge(request, response, [requirement()], () => response.end('finally paid'), {
          loseResponse: () => {
            const lose = loseNext
            loseNext = false
            return lose
          },
        }),
      '/missing': (_request, response) => void response.writeHead(404).end('not here'),
      // Never answers the first request: nothing is asked, nothing paid.
      '/hang': (_request, response) => {
        stalled.push(response)
        proofArrived()
      },
      // Takes the proof and never answers (until the test lets it go).
      '/proof-stall': (request, response) => {
        if (!request.headers['payment-signature'])
          return void response
            .writeHead(402, { 'payment-required': encodeBase64Json({ x402Version: 2, accepts: [requirement()] }) })
            .end()
        stalled.push(response)
        proofArrived()
      },
      // A paid answer larger than a pipe holds: a reader that stops early meets EPIPE.
      '/big': (request, response, self) =>
        self.charge(request, response, [requirement()], () => response.end('x'.repeat(4 << 20))),
      // Settles, then sends the first words of the paid answer and never the rest.
      '/paid-stall': (request, response, self) =>
        self.charge(request, response, [requirement()], () => {
          response.writeHead(200, { 'content-type': 'text/plain' })
          response.write('first words')
        }),
      // Takes the proof, then answers 500 with no settlement report: whether it settled is unknown.
      '/unsettled': (request, response) => {
        if (!request.headers['payment-signature'])
          return void response
            .writeHead(402, { 'payment-required': encodeBase64Json({ x402Version: 2, accepts: [requirement()] }) })
            .end()
        response.writeHead(500).end('facilitator down')
      },
    },
    { paymentIdentifier: { required: false } },
  )
  const server = createServer((_request, response) => {
    response.writeHead(402, { 'payment-required': 'not base64 json' }).end('{}')
  })
  broken = { url: await listen(server), close: () => close(server) }
  // Takes any proof; its words (refusal reason, settlement report) carry terminal escapes.
  const evil = createServer((request, response) => {
    const offer = { x402Version: 2, accepts: [requirement()], error: `no ${escapes}` }
    if (!request.headers['payment-signature'])
      return void response.writeHead(402, { 'payment-required': encodeBase64Json(offer) }).end()
    if (request.url === '/refuse')
      return void response
        .writeHead(402, { 'payment-required': encodeBase64Json({ ...offer, error: `insufficient_funds ${escapes}` }) })
        .end()
    const settlement = { success: true, transaction: `0xab${escapes}`, network: 'eip155:84532' }
    response.writeHead(200, { 'payment-response': encodeBase64Json(settlement) }).end('body')
  })
  hostile = { url: await listen(evil), close: () => close(evil) }
  dir = await mkdtemp(join(tmpdir(), 'payfetch-cli-'))
})

afterAll(async () => {
  await Promise.all([merchant?.close(), broken?.close(), hostile?.close()])
})

// Clear screen, set the clipboard (OSC 52), return to the line start, NUL, a bidi override.
const escapes = '\x1b[2J\x1b]52;c;ZXZpbA==\x07\rOVERWRITE\0\u202e'

const env = (more: Record<string, string> = {}) => ({
  PAYFETCH_EVM_PRIVATE_KEY: key,
  PAYFETCH_STATE_DIR: join(dir, 'state'),
  ...more,
})

describe('payfetch <url>', () => {
  test('behavior: pays, writes the body to stdout and the payment to stderr, exits 0', async () => {
    const settled = merchant.settled.length
    const run = await runCli([`${merchant.url}/report`], env())
    expect(run).toMatchObject({ code: 0, stdout: '{"report":"all quiet"}' })
    expect(run.stderr).toMatch(
      /^payfetch: paid 10000 atomic units of 0x036C\w+ on eip155:84532 via x402 to 0x\w+; reference 0x[0-9a-f]{64}\n$/,
    )
    expect(merchant.settled.length).toBe(settled + 1)
    expect(run.stderr).not.toContain(key.slice(2))
  })

  test('behavior: -X, -H, -d @file and @-, --json; -i prints the head; -o writes a file; -s and -v', async () => {
    const file = join(dir, 'body.txt')
    await writeFile(file, 'a=1&b=2')
    const fromFile = await runCli(
      ['-s', '-X', 'POST', '-H', 'X-Agent: a7', '-d', `@${file}`, `${merchant.url}/echo`],
      env(),
    )
    expect(fromFile).toMatchObject({ code: 0, stderr: '' })
    expect(JSON.parse(fromFile.stdout)).toEqual({
      body: 'a=1&b=2',
      type: 'application/x-www-form-urlencoded',
      agent: 'a7',
    })
    const fromStdin = await runCli(['-s', '--json', '@-', `${merchant.url}/echo`], env(), '{"q":1}')
    expect(JSON.parse(fromStdin.stdout)).toEqual({ body: '{"q":1}', type: 'application/json', agent: null })
    const head = await runCli(['-s', '-i', `${merchant.url}/report`], env())
    expect(head.stdout).toMatch(/^HTTP 200 OK\r\n(.+\r\n)*x-served: yes\r\n(.+\r\n)*\r\n\{"report":"all quiet"\}$/)
    const out = join(dir, 'out.json')
    expect(await runCli(['-s', '-o', out, `${merchant.url}/report`], env())).toMatchObject({ code: 0, stdout: '' })
    expect(await readFile(out, 'utf8')).toBe('{"report":"all quiet"}')
    const verbose = await runCli(['-v', `${merchant.url}/report`], env())
    expect(verbose.stderr).toContain('payfetch: 402 with 1 offer(s): x402 10000 on eip155:84532')
    expect(verbose.stderr).toContain('payfetch: proof sent; waiting for the paid answer')
  })

  test('policy: refused (over --max-usd, or confirmation needed without -y) exits 3 and pays nothing', async () => {
    const settled = merchant.settled.length
    const refused = await runCli(['--max-usd', '0.001', `${merchant.url}/report`], env())
    expect(refused).toMatchObject({ code: 3, stdout: '' })
    expect(refused.stderr).toContain('payfetch: CAP_EXCEEDED: Offer of $0.01 exceeds the call limit of $0.001.')
    const unconfirmed = await runCli([`${merchant.url}/report`], env({ PAYFETCH_CONFIRM: 'always' }))
    expect(unconfirmed).toMatchObject({ code: 3, stdout: '' })
    expect(unconfirmed.stderr).toContain('CONFIRMATION_REQUIRED')
    expect(merchant.settled.length).toBe(settled)
    const confirmed = await runCli(['-y', `${merchant.url}/report`], env({ PAYFETCH_CONFIRM: 'always' }))
    expect(confirmed.code).toBe(0)
  })

  test('policy: PAYFETCH_ALLOW_HOSTS refuses a host it does not list (exit 3, nothing paid) and pays one it lists', async () => {
    const settled = merchant.settled.length
    const elsewhere = await runCli(
      [`${merchant.url}/report`],
      env({ PAYFETCH_ALLOW_HOSTS: 'api.example.com, *.example.org' }),
    )
    expect(elsewhere).toMatchObject({ code: 3, stdout: '' })
    expect(elsewhere.stderr).toContain('HOST_NOT_ALLOWED')
    expect(merchant.settled.length).toBe(settled)
    const listed = await runCli([`${merchant.url}/report`], env({ PAYFETCH_ALLOW_HOSTS: 'api.example.com,127.0.0.1' }))
    expect(listed).toMatchObject({ code: 0, stdout: '{"report":"all quiet"}' })
    expect(merchant.settled.length).toBe(settled + 1)
  })

  test('error: failed with nothing paid exits 4; -f on an HTTP error exits 22; bad flags or settings exit 2', async () => {
    const failed = await runCli([`${broken.url}/x`], env())
    expect(failed).toMatchObject({ code: 4, stdout: '' })
    expect(failed.stderr).toContain('CHALLENGE_INVALID')
    expect(await runCli(['-f', `${merchant.url}/missing`], env())).toMatchObject({ code: 22, stdout: '' })
    expect(await runCli([`${merchant.url}/missing`], env())).toMatchObject({ code: 0, stdout: 'not here' })
    expect(await runCli(['--max-sats', 'ten', `${merchant.url}/report`], env())).toMatchObject({
      code: 2,
      stderr: 'payfetch: --max-sats must be a whole number.\n',
    })
    expect(await runCli(['--bogus', `${merchant.url}/report`], env())).toMatchObject({ code: 2 })
    const userinfo = `http://user:hunter2@${new URL(merchant.url).host}/report`
    expect(await runCli(['-v', userinfo], env())).toEqual({
      code: 2,
      stdout: '',
      stderr: 'payfetch: The URL may not hold a user name or password; send credentials with -H.\n',
    })
    const badKey = `0x${'zz'.repeat(32)}`
    const badSettings = await runCli([`${merchant.url}/report`], { PAYFETCH_EVM_PRIVATE_KEY: badKey })
    expect(badSettings).toEqual({
      code: 2,
      stdout: '',
      stderr: 'payfetch: PAYFETCH_EVM_PRIVATE_KEY must be 0x followed by 64 hex digits.\n',
    })
  })

  test('error: a state dir whose sessions file is not a JSON object (garbage, an array, null) exits 2 naming PAYFETCH_STATE_DIR; nothing paid', async () => {
    const settled = merchant.settled.length
    for (const [name, text] of [
      ['garbage', 'this is {not json'],
      ['array', '[1,2]'],
      ['null', 'null'],
    ] as const) {
      const state = join(dir, `state-sessions-${name}`)
      await mkdir(state, { recursive: true })
      await writeFile(join(state, 'sessions.json'), text)
      const run = await runCli([`${merchant.url}/report`], env({ PAYFETCH_STATE_DIR: state }))
      expect(run, name).toMatchObject({ code: 2, stdout: '' })
      expect(run.stderr, name).toMatch(
        /^payfetch: PAYFETCH_STATE_DIR cannot be used: .*sessions\.json is not a JSON object/,
      )
      expect(await readFile(join(state, 'sessions.json'), 'utf8')).toBe(text)
    }
    expect(merchant.settled.length).toBe(settled)
  })

  test('error: a PAYFETCH_STATE_DIR where mkdir answers ENOENT under a parent that exists (/proc) exits 2, where Node’s recursive mkdir spins for good', async () => {
    expect(await runCli([`${merchant.url}/report`], env({ PAYFETCH_STATE_DIR: '/proc/payfetch-test/state' }))).toEqual({
      code: 2,
      stdout: '',
      stderr: 'payfetch: PAYFETCH_STATE_DIR cannot be used: ENOENT\n',
    })
  })

  test('error: --max-usd -1 is exit 2 with parseArgs’ explanation on one line', async () => {
    const run = await runCli(['--max-usd', '-1', `${merchant.url}/report`], env())
    expect(run).toMatchObject({ code: 2, stdout: '' })
    expect(run.stderr).toMatch(/^payfetch: Option '--max-usd' argument is ambiguous\. Did you forget [^\n]*\n$/)
  })

  test('error: PAYFETCH_REDIS_URL on a closed port exits 2 naming it, with no ioredis trace, and the process ends', async () => {
    const run = await runCli([`${merchant.url}/report`], env({ PAYFETCH_REDIS_URL: 'redis://127.0.0.1:1' }))
    expect(run).toEqual({
      code: 2,
      stdout: '',
      stderr: 'payfetch: PAYFETCH_REDIS_URL: Redis could not be reached (or did not answer within 5 s).\n',
    })
  })

  test('policy: a server’s words on stderr (a receipt, a refusal reason, -v events) have their control characters escaped, never raw', async () => {
    const paid = await runCli(['-v', `${hostile.url}/pay`], env())
    expect(paid).toMatchObject({ code: 0, stdout: 'body' })
    expect(paid.stderr).toContain(
      '; reference 0xab\\u001b[2J\\u001b]52;c;ZXZpbA==\\u0007\\u000dOVERWRITE\\u0000\\u202e\n',
    )
    const refused = await runCli([`${hostile.url}/refuse`], env())
    expect(refused.code).toBe(5)
    expect(refused.stderr).toContain('insufficient_funds \\u001b[2J')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: none may reach the terminal
    for (const run of [paid, refused]) expect(run.stderr).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]/)
  })

  test('behavior: an unknown outcome exits 5 with its pending id; payfetch pending lists it; payfetch resume finishes it without paying again', async () => {
    const settled = merchant.settled.length
    loseNext = true
    const lost = await runCli([`${merchant.url}/flaky`], env())
    expect(lost.code).toBe(5)
    const id = /\(payfetch resume ([^)]+)\)/.exec(lost.stderr)?.[1]
    expect(id).toBeDefined()
    const pending = await runCli(['pending'], env())
    expect(JSON.parse(pending.stdout).pending).toEqual([expect.objectContaining({ id, url: `${merchant.url}/flaky` })])
    const resumed = await runCli(['resume', id as string], env())
    expect(resumed).toMatchObject({ code: 0, stdout: 'finally paid' })
    expect(merchant.settled.length).toBe(settled + 1)
    expect(JSON.parse((await runCli(['pending'], env())).stdout).pending).toEqual([])
  })

  test('policy: a proof answered by 500 without a settlement report exits 5 naming the pending payment, with -f too; the body still reaches stdout', async () => {
    const unsettled = env({ PAYFETCH_STATE_DIR: join(dir, 'state-unsettled') })
    const run = await runCli([`${merchant.url}/unsettled`], unsettled)
    expect(run).toMatchObject({ code: 5, stdout: 'facilitator down' })
    expect(run.stderr).toContain('PAYMENT_OUTCOME_UNKNOWN')
    const id = /\(payfetch resume ([^)]+)\)/.exec(run.stderr)?.[1]
    expect(JSON.parse((await runCli(['pending'], unsettled)).stdout).pending).toEqual([expect.objectContaining({ id })])
    expect(await runCli(['-f', `${merchant.url}/unsettled`], unsettled)).toMatchObject({ code: 5, stdout: '' })
    expect(await runCli(['resume', id as string], unsettled)).toMatchObject({ code: 5 })
  })

  test('policy: a reader that closes stdout after the payment (| head -c 1) gets no trace: exit 23 says the payment went through, counted once', async () => {
    const state = env({ PAYFETCH_STATE_DIR: join(dir, 'state-epipe') })
    const settled = merchant.settled.length
    const child = spawn(process.execPath, [cliPath, `${merchant.url}/big`], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...state },
    })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    // Like `head -c 1`: read the first chunk, then close the pipe.
    child.stdout.once('data', () => child.stdout.destroy())
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
    expect(code).toBe(23)
    expect(stderr).toMatch(/^payfetch: paid 10000 atomic units .*\n/)
    expect(stderr).toContain(
      'payfetch: the paid answer could not be written to stdout (EPIPE); the payment went through (above), nothing is pending.\n',
    )
    expect(stderr).not.toMatch(/ at |node:|Error:/)
    expect(merchant.settled.length).toBe(settled + 1)
    const report = JSON.parse((await runCli(['report'], state)).stdout)
    expect(report.totals).toEqual([expect.objectContaining({ spent: '10000', unknown: '0' })])
  })

  test('policy: -o to a path that cannot be written exits 2 before anything is sent; a write that fails after paying (a full disk) exits 23 saying so', async () => {
    const settled = merchant.settled.length
    for (const path of [join(dir, 'no-such-dir', 'out.txt'), dir]) {
      expect(await runCli(['-o', path, `${merchant.url}/report`], env())).toEqual({
        code: 2,
        stdout: '',
        stderr: `payfetch: Cannot write ${path}; nothing was sent.\n`,
      })
    }
    expect(merchant.settled.length).toBe(settled)
    const full = await runCli(['-o', '/dev/full', `${merchant.url}/report`], env())
    expect(full.code).toBe(23)
    expect(full.stderr).toContain(
      'the paid answer could not be written to /dev/full (ENOSPC); the payment went through (above), nothing is pending.',
    )
    expect(merchant.settled.length).toBe(settled + 1)
  })

  test('policy: Ctrl-C while the server holds the proof exits 5 naming the pending payment; payfetch pending lists it, counted as unknown', async () => {
    const state = env({ PAYFETCH_STATE_DIR: join(dir, 'state-sigint') })
    const { code, stderr } = await interrupted('/proof-stall', state)
    expect(code).toBe(5)
    const id = /PAYMENT_OUTCOME_UNKNOWN: .*\(payfetch resume ([^)]+)\)/.exec(stderr)?.[1]
    expect(id).toBeDefined()
    expect(JSON.parse((await runCli(['pending'], state)).stdout).pending).toEqual([expect.objectContaining({ id })])
    const report = JSON.parse((await runCli(['report'], state)).stdout)
    expect(report.totals).toEqual([expect.objectContaining({ unknown: '10000', reserved: '0' })])
  })

  test('policy: Ctrl-C before any proof left exits 130 saying nothing was paid; nothing is pending', async () => {
    const state = env({ PAYFETCH_STATE_DIR: join(dir, 'state-sigint-early') })
    const { code, stderr } = await interrupted('/hang', state)
    expect(code).toBe(130)
    expect(stderr).toBe('payfetch: interrupted; nothing was paid.\n')
    expect(JSON.parse((await runCli(['pending'], state)).stdout).pending).toEqual([])
  })

  test('behavior: -m reads seconds as curl does: decimals end a silent server in time, 0 is no limit, a word is exit 2', async () => {
    const state = env({ PAYFETCH_STATE_DIR: join(dir, 'state-max-time') })
    const silent = await runCli(['-m', '0.3', `${merchant.url}/hang`], state)
    for (const response of stalled.splice(0)) response.destroy()
    expect(silent.code).toBe(4)
    expect(silent.stderr).toContain('TIMEOUT')
    const settled = merchant.settled.length
    expect(await runCli(['-m', '0', `${merchant.url}/report`], state)).toMatchObject({ code: 0 })
    expect(merchant.settled.length).toBe(settled + 1)
    expect(await runCli(['-m', 'soon', `${merchant.url}/report`], state)).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--max-time must be a number of seconds'),
    })
    expect(merchant.settled.length).toBe(settled + 1)
  })

  test('policy: a paid answer whose body stalls past -m exits 18, the receipt and the words that came kept, nothing pending', async () => {
    const stalled = env({ PAYFETCH_STATE_DIR: join(dir, 'state-stalled') })
    // 3 s: the payment itself (about 50 ms) must be done before it even at a high load; the body never ends.
    const run = await runCli(['-m', '3', `${merchant.url}/paid-stall`], stalled)
    expect(run).toMatchObject({ code: 18, stdout: 'first words' })
    expect(run.stderr).toContain('paid 10000 atomic units')
    expect(run.stderr).toContain('TIMEOUT: the paid answer stopped before its end')
    expect(run.stderr).not.toContain('INTERNAL')
    expect(JSON.parse((await runCli(['pending'], stalled)).stdout).pending).toEqual([])
  })

  test('policy: --help, -h and --version anywhere (after the URL, in -sh, after a subcommand) answer and exit 0; the 402 server sees no request, nothing is paid', async () => {
    const seen = merchant.seen.length
    const settled = merchant.settled.length
    const url = `${merchant.url}/report`
    for (const args of [
      [url, '--help'],
      ['-X', 'POST', url, '-h'],
      [url, '-sh'],
      ['quote', url, '--help'],
      ['refund', url, '--help'],
      ['pending', '-h'],
      ['mcp', '--help'],
    ]) {
      const run = await runCli(args, env())
      expect({ args, ...run }).toMatchObject({ args, code: 0, stderr: '' })
      expect(run.stdout).toMatch(/^payfetch \d+\.\d+\.\d+: fetch a URL, paying HTTP 402 challenges.*\nUsage:\n/s)
    }
    for (const args of [
      [url, '--version'],
      ['quote', url, '--version'],
    ])
      expect(await runCli(args, env())).toEqual({
        code: 0,
        stdout: expect.stringMatching(/^\d+\.\d+\.\d+\n$/),
        stderr: '',
      })
    expect(merchant.seen.length).toBe(seen)
    expect(merchant.settled.length).toBe(settled)
  })

  test('behavior: --dry-run and quote print the offers and pay nothing; report prints spending', async () => {
    const settled = merchant.settled.length
    for (const args of [
      ['--dry-run', `${merchant.url}/report`],
      ['quote', `${merchant.url}/report`],
    ]) {
      const run = await runCli(args, env())
      expect(run.code).toBe(0)
      expect(JSON.parse(run.stdout)).toMatchObject({
        status: 402,
        best: 0,
        offers: [{ amount: '10000', payable: true }],
      })
    }
    expect(merchant.settled.length).toBe(settled)
    const report = JSON.parse((await runCli(['report'], env())).stdout)
    expect(report.totals[0]).toMatchObject({ network: 'eip155:84532' })
  })
})

/** Runs the CLI on `path`, sends Ctrl-C once the server has the request, and lets the server go. */
async function interrupted(path: string, state: Record<string, string>) {
  const arrived = new Promise<void>((resolve) => {
    proofArrived = resolve
  })
  const child = spawn(process.execPath, [cliPath, `${merchant.url}${path}`], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...state },
  })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve))
  await arrived
  child.kill('SIGINT')
  const code = await closed
  for (const response of stalled.splice(0)) response.destroy()
  return { code, stderr }
}
