/**
 * The responses running now, for a drain whose grace ran out (in-flight.ts): a doubly linked
 * list whose links are cleared when an entry leaves, so nothing that left is referenced from here.
 *
 * It replaces a `Set<ServerResponse>` with one add and one delete per request, which kept finished
 * requests alive through young collections: in a production gateway under load 29 % of what the
 * process allocated survived each young collection, 16 % with this list (docs/performance.md,
 * session 47), and test/ops/in-flight-young.test.ts sees the Set leave 150 MB of finished
 * requests' payloads in the old generation where the list leaves under 1 MB. Which part of V8's
 * hash table keeps a deleted entry's object reachable was not pinned down; a promoted request's
 * whole graph is copied twice and left for mark-compact. A list entry holds its response only
 * while it runs, and nothing else points at an entry once it left.
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

  /** Removes `entry` and clears its links; a second call does nothing. */
  remove(entry: RunningEntry<T>): void {
    if (entry.item === undefined) return
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
