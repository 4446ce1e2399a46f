// viem's wallet client for a test page, beside the script build (which leaves it out on purpose).
export { createWalletClient, custom } from 'viem'
export { baseSepolia } from 'viem/chains'
