/**
 * The writer's FIFO of arena records in arena order (oldest first), the bookkeeping of the
 * cache segment's log-structured ring. A growable circular array: push and shift are O(1)
 * and allocate only when the queue doubles, unlike `Array.prototype.shift`, which is O(n)
 * once an array leaves V8's fast path. Its length is bounded by the arena: every record,
 * live or dead, takes at least ENTRY_ALIGN_BYTES of it.
 */

export class RecordQueue<T> {
  #items: (T | undefined)[] = new Array<T | undefined>(16).fill(undefined);
  #first = 0;
  #count = 0;

  get size(): number {
    return this.#count;
  }

  peek(): T | undefined {
    return this.#count === 0 ? undefined : this.#items[this.#first];
  }

  shift(): T | undefined {
    if (this.#count === 0) return undefined;
    const item = this.#items[this.#first];
    this.#items[this.#first] = undefined;
    this.#first = (this.#first + 1) % this.#items.length;
    this.#count--;
    return item;
  }

  push(item: T): void {
    if (this.#count === this.#items.length) this.#grow();
    this.#items[(this.#first + this.#count) % this.#items.length] = item;
    this.#count++;
  }

  #grow(): void {
    const items = new Array<T | undefined>(this.#items.length * 2).fill(undefined);
    for (let i = 0; i < this.#count; i++) {
      items[i] = this.#items[(this.#first + i) % this.#items.length];
    }
    this.#items = items;
    this.#first = 0;
  }
}
