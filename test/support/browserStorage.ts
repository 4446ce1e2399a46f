/** A Web Storage object for Node tests: the `Storage` interface over a Map, with the browser's string coercion. */
export class MemoryStorage implements Storage {
  readonly #items = new Map<string, string>();

  [name: string]: unknown

  get length(): number {
    return this.#items.size
  }

  clear(): void {
    this.#items.clear()
  }

  getItem(key: string): string | null {
    return this.#items.get(String(key)) ?? null
  }

  key(index: number): string | null {
    return [...this.#items.keys()][index] ?? null
  }

  removeItem(key: string): void {
    this.#items.delete(String(key))
  }

  setItem(key: string, value: string): void {
    this.#items.set(String(key), String(value))
  }
}
