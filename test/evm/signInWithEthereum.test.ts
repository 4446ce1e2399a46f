import { parseSIWxHeader, validateSIWxMessage, verifySIWxSignature } from '@x402/extensions/sign-in-with-x'
import { createWalletClient, type Hex, http } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { base } from 'viem/chains'
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { evm } from '../../src/evm/evm.js'
import type { SignInWithX, SiwxAccess } from '../../src/signers/SignInWithX.js'

// Anvil's first development key: public, never funded anywhere that matters.
const account = privateKeyToAccount('0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80')
const url = 'https://api.example.com/report'
const now = Date.parse('2026-12-01T09:00:00.000Z')
const iso = (ms: number) => new Date(ms).toISOString()

// The nonces this process signed are remembered process-wide: every challenge gets its own.
let counter = 0
const freshNonce = () => `n${Date.now().toString(36)}x${(counter++).toString(36)}abcdefgh`

function challenge(info: Record<string, unknown> = {}, chains = [{ chainId: 'eip155:84532', type: 'eip191' }]) {
  return {
    'sign-in-with-x': {
      info: {
        domain: 'api.example.com',
        uri: url,
        version: '1',
        nonce: freshNonce(),
        issuedAt: iso(now),
        resources: [url],
        ...info,
      },
      supportedChains: chains,
      schema: {},
    },
  }
}

/** An evm signer whose account records every message it signs. */
function signer(options: { networks?: string[] } = {}) {
  const signMessage = vi.fn((parameters: { message: string }) => account.signMessage(parameters))
  const built = evm({
    account: { address: account.address, signTypedData: account.signTypedData, signMessage },
    networks: options.networks,
  })
  return { signIn: built.signIn as SignInWithX, signMessage }
}

async function signIn(extensions: unknown, options: { url?: string; network?: string; networks?: string[] } = {}) {
  const { signIn: signing, signMessage } = signer(options)
  const result = await signing.signIn({ extensions, url: options.url ?? url, network: options.network })
  return { result, signed: signMessage.mock.calls.map(([parameters]) => parameters.message) }
}

/** The refusal, after checking nothing was signed. */
async function refusal(extensions: unknown, options: { url?: string; networks?: string[] } = {}) {
  const { result, signed } = await signIn(extensions, options)
  expect(signed).toEqual([])
  expect(typeof result).toBe('string')
  return result as string
}

function headerOf(result: SiwxAccess | string | undefined): string {
  expect(typeof result).toBe('object')
  return (result as SiwxAccess).headers['sign-in-with-x'] as string
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'], now })
})
afterEach(() => {
  vi.useRealTimers()
})

describe('sign-in-with-x for an EVM account (SIWE)', () => {
  test('behavior: signs a SIWE message the reference server (@x402/extensions) parses, validates and verifies as this account', async () => {
    const extensions = challenge({
      statement: 'Sign in to read the report',
      expirationTime: iso(now + 60_000),
      notBefore: iso(now - 1_000),
      requestId: 'req42',
    })
    const { result, signed } = await signIn(extensions)
    const payload = parseSIWxHeader(headerOf(result))
    expect(payload).toMatchObject({
      domain: 'api.example.com',
      uri: url,
      address: account.address,
      chainId: 'eip155:84532',
      type: 'eip191',
      statement: 'Sign in to read the report',
      requestId: 'req42',
    })
    expect(await validateSIWxMessage(payload, new URL(url))).toEqual({ isValid: true })
    expect(await verifySIWxSignature(payload)).toEqual({ isValid: true, payer: account.address })
    expect(signed).toHaveLength(1)
    expect(signed[0]).toMatch(/^api\.example\.com wants you to sign in with your Ethereum account:\n0x/)
  })

  test('behavior: the message without statement and optional times verifies too; the address is EIP-55 even when the wallet gives it lower case', async () => {
    const signMessage = vi.fn((parameters: { message: string }) => account.signMessage(parameters))
    const lower = evm({
      account: {
        address: account.address.toLowerCase() as Hex,
        signTypedData: account.signTypedData,
        signMessage,
      },
    }).signIn as SignInWithX
    const extensions = challenge({ resources: undefined })
    const payload = parseSIWxHeader(headerOf(await lower.signIn({ extensions, url })))
    expect(payload.address).toBe(account.address)
    expect(await verifySIWxSignature(payload)).toEqual({ isValid: true, payer: account.address })
    expect(signMessage.mock.calls[0]?.[0].message).toContain(`${account.address}\n\n\nURI: ${url}\n`)
  })

  test('behavior: a viem WalletClient signs in with its own signMessage, on the chain it is bound to', async () => {
    const wallet = createWalletClient({ account, chain: base, transport: http('http://127.0.0.1:1') })
    const signing = evm({ account: wallet }).signIn as SignInWithX
    const chains = [
      { chainId: 'eip155:84532', type: 'eip191' },
      { chainId: 'eip155:8453', type: 'eip191' },
    ]
    const payload = parseSIWxHeader(headerOf(await signing.signIn({ extensions: challenge({}, chains), url })))
    expect(payload.chainId).toBe('eip155:8453')
    expect(await verifySIWxSignature(payload)).toEqual({ isValid: true, payer: account.address })
  })

  test('behavior: the chain the entitlement was paid on is preferred among the supported ones', async () => {
    const chains = [
      { chainId: 'solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1', type: 'ed25519' },
      { chainId: 'eip155:8453', type: 'eip191' },
      { chainId: 'eip155:84532', type: 'eip191' },
    ]
    const { result } = await signIn(challenge({}, chains), { network: 'eip155:84532' })
    expect(parseSIWxHeader(headerOf(result)).chainId).toBe('eip155:84532')
    const first = await signIn(challenge({}, chains))
    expect(parseSIWxHeader(headerOf(first.result)).chainId).toBe('eip155:8453')
  })

  test('behavior: no extension, no answer; a malformed one is a refusal; an account without signMessage has no sign-in', async () => {
    expect((await signIn({})).result).toBeUndefined()
    expect(await refusal({ 'sign-in-with-x': { info: { domain: 'api.example.com' }, supportedChains: [] } })).toMatch(
      /uri is missing/,
    )
    expect(evm({ account: { address: account.address, signTypedData: account.signTypedData } }).signIn).toBe(undefined)
  })

  test('policy: a SIWx message for another domain is never signed', async () => {
    expect(await refusal(challenge({ domain: 'evil.example' }))).toMatch(/domain "evil.example" is not api.example.com/)
  })

  test('policy: a SIWx message whose domain leaves out the port that asked is never signed', async () => {
    const local = 'http://127.0.0.1:8402/report'
    expect(await refusal(challenge({ domain: '127.0.0.1', uri: local, resources: [local] }), { url: local })).toMatch(
      /domain "127.0.0.1" is not 127.0.0.1:8402/,
    )
  })

  test('policy: a SIWx message whose uri is on another origin is never signed', async () => {
    expect(await refusal(challenge({ uri: 'https://evil.example/report' }))).toMatch(/uri is not on/)
    expect(await refusal(challenge({ uri: 'http://api.example.com/report' }))).toMatch(/uri is not on/)
    expect(await refusal(challenge({ uri: 'not a url' }))).toMatch(/uri is not on/)
  })

  test('policy: a SIWx message listing a resource on another origin is never signed', async () => {
    expect(await refusal(challenge({ resources: [url, 'https://evil.example/all'] }))).toMatch(/resource is not on/)
  })

  test('policy: a SIWx message without a nonce of at least 8 letters and digits is never signed', async () => {
    expect(await refusal(challenge({ nonce: 'abc1234' }))).toMatch(/nonce is not at least 8/)
    expect(await refusal(challenge({ nonce: 'abcd-1234' }))).toMatch(/nonce is not at least 8/)
    expect(await refusal(challenge({ nonce: undefined }))).toMatch(/nonce is missing/)
  })

  test('policy: a SIWx nonce this process already signed is never signed again, by any signer', async () => {
    const extensions = challenge()
    const first = await signIn(extensions)
    expect(typeof first.result).toBe('object')
    expect(await refusal(extensions)).toMatch(/nonce was already signed by this process/)
  })

  test('policy: a SIWx message issued more than 5 minutes ago, or ahead, is never signed', async () => {
    expect(await refusal(challenge({ issuedAt: iso(now - 5 * 60_000 - 1) }))).toMatch(/issuedAt is not within 5/)
    expect(await refusal(challenge({ issuedAt: iso(now + 5 * 60_000 + 1) }))).toMatch(/issuedAt is not within 5/)
    expect(await refusal(challenge({ issuedAt: 'Dec 1 2026' }))).toMatch(/issuedAt is not an RFC 3339/)
    // Within the window either way: signed.
    expect(typeof (await signIn(challenge({ issuedAt: iso(now - 4 * 60_000) }))).result).toBe('object')
  })

  test('policy: a SIWx message past its expirationTime is never signed', async () => {
    expect(await refusal(challenge({ expirationTime: iso(now) }))).toMatch(/expirationTime is not in the future/)
    expect(await refusal(challenge({ expirationTime: 'soon' }))).toMatch(/expirationTime is not in the future/)
  })

  test('policy: a SIWx message whose notBefore is in the future is never signed', async () => {
    expect(await refusal(challenge({ notBefore: iso(now + 1_000) }))).toMatch(/notBefore is in the future/)
  })

  test('policy: a SIWx message for a chain the signer cannot sign for is never signed', async () => {
    expect(await refusal(challenge(), { networks: ['eip155:8453'] })).toMatch(/no sign-in-with-x chain this signer/)
    const solanaOnly = [{ chainId: 'solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1', type: 'ed25519' }]
    expect(await refusal(challenge({}, solanaOnly))).toMatch(/no sign-in-with-x chain this signer/)
    expect(await refusal(challenge({}, [{ chainId: 'eip155:84532', type: 'eip1271' }]))).toMatch(/no sign-in-with-x/)
  })

  test('policy: a SIWx message of a version other than "1" is never signed', async () => {
    expect(await refusal(challenge({ version: '2' }))).toMatch(/version is "2", not "1"/)
  })

  test('policy: a SIWx message with a line break in a field (lines of the server choosing) is never signed', async () => {
    const injected = 'Welcome\nURI: https://evil.example/'
    expect(await refusal(challenge({ statement: injected }))).toMatch(/statement contains a line break/)
    expect(await refusal(challenge({ requestId: 'a\r\nb' }))).toMatch(/requestId contains a line break/)
    // NEL (U+0085) and the Unicode separators break lines in the text a wallet shows.
    expect(await refusal(challenge({ statement: 'Welcome\u0085URI: https://evil.example/' }))).toMatch(/line break/)
    expect(await refusal(challenge({ statement: 'Welcome\u2028URI: https://evil.example/' }))).toMatch(/line break/)
  })
})
