/**
 * Items that come and go while the process runs (responses in flight, open connections,
 * CONNECT tunnels): a doubly linked list whose links are cleared when an entry leaves, so
 * nothing that left is referenced from here.
 *
 * It replaces long-lived `Set`s and `Map`s with one add and one delete per request or
 * connection, which kept finished requests alive through young collections: in a production
 * gateway under load 29 % of what the process allocated survived each young collection with
 * in-flight tracking's Set, 16 % with this list (docs/performance.md, session 47). The shape,
 * measured fits this: when V8 rehashes a Set's or Map's table (it fills with deleted entries every few
 * adds) the table left behind still holds what was in it then; once the collection lives in
 * the old generation that dead table is a root for young collections until the next
 * mark-compact, so whatever was running at each rehash is promoted with its whole graph. A
 * list entry holds its item only while it runs, and nothing points at an entry once it left.
 * WeakMap and WeakSet did not show it.
 */

/** One running item's place in the list; `remove` it once. */
export interface RunningEntry<T> {
  item: T | undefined
  prev: RunningEntry<T> | undefined
  next: RunningEntry<T> | undefined
}

/** Items in insertion order; adding and removing cost a few field writes, no table. */
export class RunningList<T> {
  #head: RunningEntry<T> | undefined
  #size = 0

  get size(): number {
    return this.#size
  }

  /** Adds `item`; the entry is what `remove` takes. */
  add(item: T): RunningEntry<T> {
    const entry: RunningEntry<T> = { item, prev: undefined, next: this.#head }
    if (this.#head) this.#head.prev = entry
    this.#head = entry
    this.#size++
    return entry
  }

  /** Removes `entry` and clears its links; a second call (or none) does nothing. */
  remove(entry: RunningEntry<T> | undefined): void {
    if (entry?.item === undefined) return
    if (entry.prev) entry.prev.next = entry.next
    else this.#head = entry.next
    if (entry.next) entry.next.prev = entry.prev
    entry.item = entry.prev = entry.next = undefined
    this.#size--
  }

  /** The items running now, oldest first (a copy: removing while iterating it is safe). */
  items(): T[] {
    const out: T[] = []
    for (let e = this.#head; e; e = e.next) out.push(e.item as T)
    return out.reverse()
  }
}
