import { describe, expect, test } from 'vitest'
import { readSettings, SettingsError } from '../src/settings.js'
import { connectMcp } from './support/mcpClient.js'

// Settings come only from PAYFETCH_* variables; a bad one is named, its value never shown.
const secretLooking = `0x${'5e'.repeat(31)}zz`

describe('settings', () => {
  test('error: each malformed variable is named in the message, and its value never appears', () => {
    const cases: Record<string, string> = {
      PAYFETCH_EVM_PRIVATE_KEY: secretLooking,
      PAYFETCH_MAX_USD: '1e3',
      PAYFETCH_MAX_SATS: '-5',
      PAYFETCH_BUDGET_USD: 'lots',
      PAYFETCH_BUDGET_WINDOW: 'daily',
      PAYFETCH_CONFIRM: 'sometimes',
      PAYFETCH_PREFER: 'bitcoin',
      PAYFETCH_SOLANA_RPC_URL: 'ftp://rpc',
      PAYFETCH_EVM_RPC_URL: 'ws://rpc.example/key-123',
      PAYFETCH_REDIS_URL: 'http://redis',
      PAYFETCH_NWC_URL: 'https://not-nwc',
      PAYFETCH_LND_URL: 'https://127.0.0.1:8080',
      PAYFETCH_EVM_CHANNELS: 'true',
      PAYFETCH_EVM_CHANNEL_MAX_DEPOSIT: '0x10',
      PAYFETCH_EVM_CHANNEL_MULTIPLIER: '250',
    }
    for (const [name, value] of Object.entries(cases)) {
      const error = (() => {
        try {
          readSettings({ [name]: value })
        } catch (thrown) {
          return thrown
        }
      })()
      expect(error, name).toBeInstanceOf(SettingsError)
      expect((error as Error).message, name).toContain(name)
      expect((error as Error).message, name).not.toContain(value)
    }
  })

  test('behavior: defaults: confirm auto, a state dir under XDG_STATE_HOME, a one-day budget window', () => {
    expect(readSettings({ XDG_STATE_HOME: '/var/state' })).toMatchObject({
      confirm: 'auto',
      stateDir: '/var/state/payfetch',
      budgetWindow: '1d',
      solanaRpcUrl: 'https://api.mainnet-beta.solana.com',
    })
    expect(readSettings({ PAYFETCH_CONFIRM: 'above:0.25' }).confirm).toEqual({ aboveUsd: '0.25' })
  })

  test('behavior: channels are off by default; on, they take the deposit cap and multiplier as given', () => {
    const key = `0x${'11'.repeat(32)}`
    expect(readSettings({ PAYFETCH_EVM_PRIVATE_KEY: key }).evmChannels).toBeUndefined()
    expect(readSettings({ PAYFETCH_EVM_PRIVATE_KEY: key, PAYFETCH_EVM_CHANNELS: 'off' }).evmChannels).toBeUndefined()
    expect(readSettings({ PAYFETCH_EVM_PRIVATE_KEY: key, PAYFETCH_EVM_CHANNELS: 'on' }).evmChannels).toEqual({})
    expect(
      readSettings({
        PAYFETCH_EVM_PRIVATE_KEY: key,
        PAYFETCH_EVM_CHANNELS: 'on',
        PAYFETCH_EVM_CHANNEL_MAX_DEPOSIT: '250000',
        PAYFETCH_EVM_CHANNEL_MULTIPLIER: '100',
      }).evmChannels,
    ).toEqual({ maxDeposit: 250_000n, depositMultiplier: 100 })
  })

  test('error: a channel limit without channels, channels without a key, a multiplier above 100 or a zero deposit cap are named', () => {
    const key = `0x${'11'.repeat(32)}`
    const cases: [Record<string, string>, string][] = [
      [
        { PAYFETCH_EVM_CHANNEL_MULTIPLIER: '5' },
        "PAYFETCH_EVM_CHANNEL_MULTIPLIER is set but PAYFETCH_EVM_CHANNELS is not 'on'.",
      ],
      [
        { PAYFETCH_EVM_CHANNEL_MAX_DEPOSIT: '5' },
        "PAYFETCH_EVM_CHANNEL_MAX_DEPOSIT is set but PAYFETCH_EVM_CHANNELS is not 'on'.",
      ],
      [
        { PAYFETCH_EVM_CHANNELS: 'on', PAYFETCH_EVM_PRIVATE_KEY: '' },
        'PAYFETCH_EVM_CHANNELS is on but PAYFETCH_EVM_PRIVATE_KEY is missing.',
      ],
      [
        { PAYFETCH_EVM_CHANNELS: 'on', PAYFETCH_EVM_CHANNEL_MULTIPLIER: '101' },
        'PAYFETCH_EVM_CHANNEL_MULTIPLIER must be a whole number from 1 to 100.',
      ],
      [
        { PAYFETCH_EVM_CHANNELS: 'on', PAYFETCH_EVM_CHANNEL_MAX_DEPOSIT: '000' },
        'PAYFETCH_EVM_CHANNEL_MAX_DEPOSIT must be above 0.',
      ],
    ]
    for (const [env, message] of cases)
      expect(() => readSettings({ PAYFETCH_EVM_PRIVATE_KEY: key, ...env }), message).toThrow(new SettingsError(message))
  })

  test('error: PAYFETCH_EVM_RPC_URL without the EVM key it reads for is named', () => {
    expect(() => readSettings({ PAYFETCH_EVM_RPC_URL: 'https://rpc.example' })).toThrow(
      new SettingsError('PAYFETCH_EVM_RPC_URL is set but PAYFETCH_EVM_PRIVATE_KEY is missing.'),
    )
    expect(
      readSettings({ PAYFETCH_EVM_PRIVATE_KEY: `0x${'11'.repeat(32)}`, PAYFETCH_EVM_RPC_URL: 'https://rpc.example' })
        .evmRpcUrl,
    ).toBe('https://rpc.example')
  })

  test('error: payfetch mcp with a malformed key still starts, and every tool answers SETTINGS_INVALID naming it', async () => {
    const mcp = await connectMcp({
      PAYFETCH_EVM_PRIVATE_KEY: secretLooking,
      PAYFETCH_STATE_DIR: '/tmp/payfetch-unused',
    })
    try {
      const result = await mcp.call('pay_fetch', { url: 'http://127.0.0.1:9/x' })
      expect(result).toMatchObject({
        isError: true,
        value: {
          code: 'SETTINGS_INVALID',
          message: 'PAYFETCH_EVM_PRIVATE_KEY must be 0x followed by 64 hex digits.',
          paid: false,
        },
      })
      expect(mcp.stderr()).toContain('PAYFETCH_EVM_PRIVATE_KEY must be')
      expect(mcp.stderr() + result.text).not.toContain(secretLooking)
    } finally {
      await mcp.close()
    }
  })

  test('error: payfetch mcp whose PAYFETCH_EVM_RPC_URL does not answer still starts; its tools answer SETTINGS_INVALID, never showing the URL', async () => {
    const mcp = await connectMcp({
      PAYFETCH_EVM_PRIVATE_KEY: `0x${'11'.repeat(32)}`,
      // A closed port: refused at once, no timeout to wait for.
      PAYFETCH_EVM_RPC_URL: 'http://127.0.0.1:1/secret-api-key',
      PAYFETCH_STATE_DIR: '/tmp/payfetch-unused',
    })
    try {
      const result = await mcp.call('pay_fetch', { url: 'http://127.0.0.1:9/x' })
      expect(result).toMatchObject({
        isError: true,
        value: { code: 'SETTINGS_INVALID', message: expect.stringMatching(/^PAYFETCH_EVM_RPC_URL /), paid: false },
      })
      expect(mcp.stderr() + result.text).not.toContain('secret-api-key')
    } finally {
      await mcp.close()
    }
  })
})
