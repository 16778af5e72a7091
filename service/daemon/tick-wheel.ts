// One timer for the ticks of every node on a shared wire (host mode). Each node's next deadline is rounded up to
// the next multiple of TICK_QUANTUM_MS, so the nodes due within one quantum tick in one timer callback and what
// they send leaves in one sendmmsg (the wire flushes once per callback). With 1,000 hosted nodes, each ticking
// every few seconds, that is about ten callbacks a second instead of two hundred, each with its own microtask
// flush and system call. 100 ms is finer than ZeroTier One's own background-task granularity (500 ms); a kick
// (a tick asked for now, after an API call) does not wait for the wheel.

/** The wheel's resolution: a deadline may fire up to this much late, never early. */
export const TICK_QUANTUM_MS = 100;

export type Tick = () => void;

export class TickWheel {
  /** Slot (a multiple of the quantum, on the monotonic clock) → the ticks due then. */
  private readonly slots = new Map<number, Set<Tick>>();
  private readonly slotOf = new Map<Tick, number>();
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Number.POSITIVE_INFINITY;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Runs `tick` once, `delayMs` from now rounded up to the quantum; replaces what `tick` was due for before. */
  schedule(tick: Tick, delayMs: number): void {
    this.cancel(tick);
    const slot = Math.ceil((this.now() + Math.max(0, delayMs)) / TICK_QUANTUM_MS) * TICK_QUANTUM_MS;
    let due = this.slots.get(slot);
    if (!due) {
      due = new Set();
      this.slots.set(slot, due);
    }
    due.add(tick);
    this.slotOf.set(tick, slot);
    if (slot < this.armedFor) this.arm(slot);
  }

  cancel(tick: Tick): void {
    const slot = this.slotOf.get(tick);
    if (slot === undefined) return;
    this.slotOf.delete(tick);
    const due = this.slots.get(slot);
    due?.delete(tick);
    if (due?.size === 0) this.slots.delete(slot);
  }

  /** Ticks waiting (for tests and stats). */
  get size(): number {
    return this.slotOf.size;
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
    this.slots.clear();
    this.slotOf.clear();
  }

  private arm(slot: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.armedFor = slot;
    this.timer = setTimeout(() => this.fire(), Math.max(0, slot - this.now()));
  }

  private fire(): void {
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
    const now = this.now();
    for (const [slot, due] of this.slots) {
      if (slot > now) continue;
      this.slots.delete(slot);
      for (const tick of due) {
        this.slotOf.delete(tick);
        tick();
      }
    }
    let next = Number.POSITIVE_INFINITY;
    for (const slot of this.slots.keys()) if (slot < next) next = slot;
    if (next !== Number.POSITIVE_INFINITY && next < this.armedFor) this.arm(next);
  }
}
