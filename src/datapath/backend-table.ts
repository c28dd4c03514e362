// The reconciler's backends by id: each one's address and port, and how many live slots refer
// to it. Ids are handed out in order and never reused (a conntrack entry or an affinity entry
// may still name an old one), so the backends alive at a time sit mostly in runs of
// consecutive ids: pages of 32 ids hold them in two flat arrays. An object and a map entry per
// backend cost ~85 bytes, plus as much again of garbage while the map grows; a page costs ~22
// bytes an id when full, ~700 bytes when one backend keeps it alive alone. A page goes with its
// last backend.
import type { Backend } from '../model/desired-services.js';

const PAGE_BITS = 5;
const PAGE_SIZE = 1 << PAGE_BITS;

interface Page {
  backends: (Backend | undefined)[];
  refs: number[];
  count: number;
}

export class BackendTable {
  private readonly pages = new Map<number, Page>();
  private count = 0;

  /** Backends held. */
  get size(): number {
    return this.count;
  }

  get(id: number): Backend | undefined {
    return this.pages.get(id >>> PAGE_BITS)?.backends[id & (PAGE_SIZE - 1)];
  }

  /** Holds backend under id, with no references yet. */
  add(id: number, backend: Backend): void {
    const index = id >>> PAGE_BITS;
    let page = this.pages.get(index);
    if (!page) {
      page = { backends: new Array<Backend | undefined>(PAGE_SIZE).fill(undefined), refs: new Array<number>(PAGE_SIZE).fill(0), count: 0 };
      this.pages.set(index, page);
    }
    const at = id & (PAGE_SIZE - 1);
    if (page.backends[at] === undefined) {
      page.count++;
      this.count++;
    }
    page.backends[at] = backend;
    page.refs[at] = 0;
  }

  refs(id: number): number {
    return this.pages.get(id >>> PAGE_BITS)?.refs[id & (PAGE_SIZE - 1)] ?? 0;
  }

  /** Adds delta to id's references; the new count, or undefined for an id not held. */
  ref(id: number, delta: number): number | undefined {
    const page = this.pages.get(id >>> PAGE_BITS);
    const at = id & (PAGE_SIZE - 1);
    if (!page || page.backends[at] === undefined) return undefined;
    return (page.refs[at]! += delta);
  }

  delete(id: number): boolean {
    const index = id >>> PAGE_BITS;
    const page = this.pages.get(index);
    const at = id & (PAGE_SIZE - 1);
    if (!page || page.backends[at] === undefined) return false;
    page.backends[at] = undefined;
    page.refs[at] = 0;
    this.count--;
    if (--page.count === 0) this.pages.delete(index);
    return true;
  }
}
