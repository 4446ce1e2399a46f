import { parseSIWxHeader, verifySIWxSignature } from '@x402/extensions/sign-in-with-x'
import { verifyTypedData } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { describe, expect, test } from 'vitest'
import { eip1193 } from '../../src/evm/eip1193.js'
import { evm } from '../../src/evm/evm.js'
import type { Eip3009Proof, Eip3009Request } from '../../src/methods/Eip3009.js'
import { testEip1193Provider } from '../support/eip1193Provider.js'
import { transferWithAuthorizationTypes } from '../support/eip3009.js'

// Anvil's second development key: public, never funded anywhere that matters.
const account = privateKeyToAccount('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d')
const usdc = '0x036CbD53842c5426634e7929541eC2318f3dCF7e'

function request(chainId: number): Eip3009Request {
  return {
    kind: 'eip3009',
    chainId,
    token: usdc,
    domain: { name: 'USDC', version: '2' },
    to: '0x209693Bc6afc0C5328bA36FaF03C514EF312287C',
    value: 10_000n,
    validBefore: { afterSeconds: 60 },
    nonce: 'random',
  }
}

async function pay(signer: ReturnType<typeof evm>, chainId: number): Promise<Eip3009Proof> {
  const payer = signer.methods.eip3009
  if (!payer) throw new Error('no eip3009 payer')
  return (await payer.pay(request(chainId), {
    url: 'https://api.example.com/',
    signal: new AbortController().signal,
  })) as Eip3009Proof
}

describe('eip1193', () => {
  test('behavior: connects, binds the signer to the wallet chain and signs through eth_signTypedData_v4', async () => {
    const provider = testEip1193Provider(account, { chainId: 84532 })
    const wallet = await eip1193(provider)
    expect([wallet.account?.address, wallet.account?.type, wallet.chain?.id]).toEqual([
      account.address,
      'json-rpc',
      84532,
    ])
    const signer = evm({ account: wallet })
    expect([
      signer.methods.eip3009?.refusal?.(request(8453)),
      signer.methods.eip3009?.refusal?.(request(84532)),
    ]).toEqual(['the wallet is bound to eip155:84532', undefined])
    const proof = await pay(signer, 84532)
    expect(provider.calls).toEqual(['eth_requestAccounts', 'eth_chainId', 'eth_signTypedData_v4'])
    const { authorization } = proof
    expect(
      await verifyTypedData({
        address: account.address,
        domain: { name: 'USDC', version: '2', chainId: 84532, verifyingContract: usdc },
        types: transferWithAuthorizationTypes,
        primaryType: 'TransferWithAuthorization',
        message: {
          ...authorization,
          value: BigInt(authorization.value),
          validAfter: BigInt(authorization.validAfter),
          validBefore: BigInt(authorization.validBefore),
        },
        signature: proof.signature,
      }),
    ).toBe(true)
  })

  test('behavior: signs in (x402 sign-in-with-x) through personal_sign, on the wallet chain; the reference verifies it', async () => {
    const provider = testEip1193Provider(account, { chainId: 84532 })
    const signIn = evm({ account: await eip1193(provider) }).signIn
    const url = 'https://api.example.com/report'
    const info = { domain: 'api.example.com', uri: url, version: '1', issuedAt: new Date().toISOString() }
    const chains = [
      { chainId: 'eip155:8453', type: 'eip191' },
      { chainId: 'eip155:84532', type: 'eip191' },
    ]
    const extensions = { 'sign-in-with-x': { info: { ...info, nonce: 'wallet1234abcd' }, supportedChains: chains } }
    const access = await signIn?.signIn({ extensions, url })
    expect(provider.calls.at(-1)).toBe('personal_sign')
    const payload = parseSIWxHeader((access as { headers: Record<string, string> }).headers['sign-in-with-x'] as string)
    // The wallet is bound to Base Sepolia: Base, listed first, is not signed for.
    expect(payload.chainId).toBe('eip155:84532')
    expect(await verifySIWxSignature(payload)).toEqual({ isValid: true, payer: account.address })
  })

  test('behavior: with chainId, asks the wallet to switch first and binds to that chain', async () => {
    const provider = testEip1193Provider(account, { chainId: 1, chains: [1, 8453] })
    const wallet = await eip1193(provider, { chainId: 8453 })
    expect([wallet.chain?.id, provider.chainId()]).toEqual([8453, 8453])
    expect(provider.calls).toEqual(['eth_requestAccounts', 'wallet_switchEthereumChain', 'eth_chainId'])
  })

  test('error: a refused connection, an unknown chain or no provider is INVALID_OPTIONS, with the wallet error as cause', async () => {
    await expect(eip1193(testEip1193Provider(account, { chainId: 1, connect: 'reject' }))).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
      shortMessage: 'eip1193(): the wallet shared no account.',
      cause: { code: 4001 },
    })
    await expect(eip1193(testEip1193Provider(account, { chainId: 1 }), { chainId: 8453 })).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
      shortMessage: 'eip1193(): the wallet did not switch to chain 8453.',
      cause: { code: 4902 },
    })
    await expect(eip1193(undefined as never)).rejects.toMatchObject({ code: 'INVALID_OPTIONS' })
    await expect(eip1193({ request: async () => [] })).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
      shortMessage: 'eip1193(): the wallet shared no account.',
    })
    await expect(
      eip1193({ request: async ({ method }) => (method === 'eth_chainId' ? 'mainnet' : [account.address]) }),
    ).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
      shortMessage: 'eip1193(): the wallet is not on the chain asked for.',
    })
  })
})
