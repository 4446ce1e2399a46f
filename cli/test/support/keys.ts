import { generateKeyPairSync } from 'node:crypto'
import { createKeyPairSignerFromBytes } from '@solana/kit'

/** A fresh Solana keypair as `PAYFETCH_SOLANA_SECRET_KEY` takes it (a JSON array of 64 bytes), and its address. */
export async function solanaKey(): Promise<{ secret: string; address: string; bytes: Uint8Array }> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d as string, 'base64url')
  const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url')
  const bytes = new Uint8Array([...seed, ...pub])
  const signer = await createKeyPairSignerFromBytes(bytes)
  return { secret: JSON.stringify(Array.from(bytes)), address: signer.address, bytes }
}
