import { generateKeyPairSigner } from '@solana/kit'
import { Keypair } from '@solana/web3.js'
import { parseSIWxHeader, validateSIWxMessage, verifySIWxSignature } from '@x402/extensions/sign-in-with-x'
import { describe, expect, test } from 'vitest'
import type { SignInWithX, SiwxAccess } from '../../src/signers/SignInWithX.js'
import { solana } from '../../src/solana/index.js'

const devnet = 'solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1'
const mainnet = 'solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp'
const url = 'https://api.example.com/report'

function challenge(info: Record<string, unknown> = {}, chains = [{ chainId: devnet, type: 'ed25519' }]) {
  return {
    'sign-in-with-x': {
      info: {
        domain: 'api.example.com',
        uri: url,
        version: '1',
        nonce: crypto.randomUUID().replaceAll('-', ''),
        issuedAt: new Date().toISOString(),
        ...info,
      },
      supportedChains: chains,
    },
  }
}

const header = (result: SiwxAccess | string | undefined) => {
  expect(typeof result).toBe('object')
  return parseSIWxHeader((result as SiwxAccess).headers['sign-in-with-x'] as string)
}

describe('sign-in-with-x for a Solana signer (SIWS)', () => {
  test('behavior: a @solana/kit key pair signer signs a SIWS message the reference server parses, validates and verifies', async () => {
    const key = await generateKeyPairSigner()
    const signIn = solana({ signer: key, rpc: 'http://127.0.0.1:1', networks: [devnet] }).signIn as SignInWithX
    for (const info of [{}, { statement: 'Sign in', resources: [url], requestId: 'r1' }, { resources: [] }]) {
      const payload = header(await signIn.signIn({ extensions: challenge(info), url }))
      expect(payload).toMatchObject({ address: key.address, chainId: devnet, type: 'ed25519' })
      expect(await validateSIWxMessage(payload, new URL(url))).toEqual({ isValid: true })
      expect(await verifySIWxSignature(payload)).toEqual({ isValid: true, payer: key.address })
    }
  })

  test('behavior: a web3.js Keypair signs in too, with the key imported once', async () => {
    const keypair = Keypair.generate()
    const signIn = solana({ signer: keypair, rpc: 'http://127.0.0.1:1', networks: [devnet] }).signIn as SignInWithX
    const payload = header(await signIn.signIn({ extensions: challenge({ statement: 'Hello' }), url }))
    expect(await verifySIWxSignature(payload)).toEqual({ isValid: true, payer: keypair.publicKey.toBase58() })
  })

  test('policy: a SIWS message for a chain the signer does not pay on, or for another domain, is never signed', async () => {
    const key = await generateKeyPairSigner()
    const signIn = solana({ signer: key, rpc: 'http://127.0.0.1:1', networks: [devnet] }).signIn as SignInWithX
    const onMainnet = challenge({}, [{ chainId: mainnet, type: 'ed25519' }])
    expect(await signIn.signIn({ extensions: onMainnet, url })).toMatch(/no sign-in-with-x chain this signer/)
    const evmOnly = challenge({}, [{ chainId: 'eip155:8453', type: 'eip191' }])
    expect(await signIn.signIn({ extensions: evmOnly, url })).toMatch(/no sign-in-with-x chain this signer/)
    expect(await signIn.signIn({ extensions: challenge({ domain: 'evil.example' }), url })).toMatch(/domain/)
  })
})
