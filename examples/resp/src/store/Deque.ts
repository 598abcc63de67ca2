/**
 * A double-ended queue on a growable ring buffer: O(1) push/pop at both ends, O(1) index.
 *
 * ```
 *   storage: [ d e . . . a b c ]     head → a;  items in order: a b c d e
 * ```
 *
 * @since 0.1.0
 */
export class Deque<T> {
  private items: Array<T | undefined>
  private head = 0
  private size = 0
  private mask: number

  constructor(capacity = 8) {
    let cap = 8
    while (cap < capacity) cap *= 2
    this.items = new Array<T | undefined>(cap)
    this.mask = cap - 1
  }

  /** Number of items. */
  get length(): number {
    return this.size
  }

  /** Add at the front. */
  pushFront(item: T): void {
    if (this.size === this.items.length) this.resize(this.items.length * 2)
    this.head = (this.head - 1) & this.mask
    this.items[this.head] = item
    this.size++
  }

  /** Add at the back. */
  pushBack(item: T): void {
    if (this.size === this.items.length) this.resize(this.items.length * 2)
    this.items[(this.head + this.size) & this.mask] = item
    this.size++
  }

  /** Remove and return the first item. */
  popFront(): T | undefined {
    if (this.size === 0) return undefined
    const item = this.items[this.head]
    this.items[this.head] = undefined
    this.head = (this.head + 1) & this.mask
    this.size--
    this.maybeShrink()
    return item
  }

  /** Remove and return the last item. */
  popBack(): T | undefined {
    if (this.size === 0) return undefined
    const at = (this.head + this.size - 1) & this.mask
    const item = this.items[at]
    this.items[at] = undefined
    this.size--
    this.maybeShrink()
    return item
  }

  /** The item at `index` (0 = front), `0 <= index < length`. */
  at(index: number): T {
    return this.items[(this.head + index) & this.mask] as T
  }

  /** Items `[start, end)` in order. */
  slice(start: number, end: number): Array<T> {
    const out: Array<T> = []
    for (let i = start; i < end; i++) out.push(this.items[(this.head + i) & this.mask] as T)
    return out
  }

  private maybeShrink(): void {
    const cap = this.items.length
    if (cap > 64 && this.size < cap / 4) this.resize(cap / 2)
  }

  private resize(cap: number): void {
    const next = new Array<T | undefined>(cap)
    for (let i = 0; i < this.size; i++) next[i] = this.items[(this.head + i) & this.mask]
    this.items = next
    this.head = 0
    this.mask = cap - 1
  }
}
