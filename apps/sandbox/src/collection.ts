/** Records by id, in insertion order, with O(1) lookup and cheap slicing for pages. */
export class Collection<T> {
  private readonly byId = new Map<string, T>();
  private order: string[] = [];
  private holes = 0;
  /** Counts every put and delete: a view kept of the records is stale once it moves. */
  version = 0;

  constructor(private readonly idOf: (record: T) => string) {}

  get size(): number {
    return this.byId.size;
  }

  get(id: string): T | undefined {
    return this.byId.get(id);
  }

  put(record: T): T {
    this.version++;
    const id = this.idOf(record);
    if (!this.byId.has(id)) this.order.push(id);
    this.byId.set(id, record);
    return record;
  }

  delete(id: string): boolean {
    if (!this.byId.delete(id)) return false;
    this.version++;
    this.holes++;
    return true;
  }

  /** Every record in insertion order (deleted ones compacted away lazily). */
  all(): T[] {
    if (this.holes > 0) {
      this.order = this.order.filter((id) => this.byId.has(id));
      this.holes = 0;
    }
    return this.order.map((id) => this.byId.get(id) as T);
  }

  /** `count` records from 0-based `offset`, without copying the whole list. */
  slice(offset: number, count: number): T[] {
    if (this.holes > 0) this.all();
    return this.order.slice(offset, offset + count).map((id) => this.byId.get(id) as T);
  }
}

// Records are replaced, never mutated after they are stored, so a record's JSON can be kept
// beside it; a list page is then a join of ready strings rather than a fresh serialisation.
const serialised = new WeakMap<object, string>();

export function toJson(record: object): string {
  let json = serialised.get(record);
  if (json === undefined) {
    json = JSON.stringify(record);
    serialised.set(record, json);
  }
  return json;
}

export const jsonArray = (records: object[]) => `[${records.map(toJson).join(",")}]`;
