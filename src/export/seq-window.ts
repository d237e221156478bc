// Which seqs of one sensor a collector has written. MQTT does not keep order
// across a resend: after a lost connection, or a record the broker had no
// subscriber for, the sensor sends again from its acknowledged watermark, so
// seq N may arrive after N+1..N+k. A highest-seq check would then drop N as a
// duplicate and lose it. The window keeps everything up to `low` as seen plus
// the seqs seen above it, and is bounded: a gap that stays open (records
// the sensor's spool dropped) is given up once SPAN seqs have arrived above it.

/** Far above the sender's window (1 024 in flight): a late record is never that late. */
export const SPAN = 16_384;

export interface WindowState {
  low: number;
  above: number[];
}

export class SeqWindow {
  private readonly above = new Set<number>();

  constructor(
    public low = 0,
    above: Iterable<number> = [],
  ) {
    for (const s of above) this.add(s);
  }

  static from(v: unknown): SeqWindow | null {
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return new SeqWindow(v); // the old state: a high-water mark
    if (v === null || typeof v !== 'object') return null;
    const { low, above } = v as Partial<WindowState>;
    if (typeof low !== 'number' || !Number.isSafeInteger(low) || low < 0 || !Array.isArray(above)) return null;
    return new SeqWindow(
      low,
      above.filter((s): s is number => Number.isSafeInteger(s)),
    );
  }

  has(seq: number): boolean {
    return seq <= this.low || this.above.has(seq);
  }

  /** Marks seq seen; false when it already was (a duplicate). */
  add(seq: number): boolean {
    if (this.has(seq)) return false;
    if (seq === this.low + 1) {
      this.low = seq;
      this.compact();
    } else {
      this.above.add(seq);
      if (this.above.size > SPAN) this.giveUpGap();
    }
    return true;
  }

  /** Seqs above `low` still waiting for the gap below them. */
  get pending(): number {
    return this.above.size;
  }

  get high(): number {
    let h = this.low;
    for (const s of this.above) if (s > h) h = s;
    return h;
  }

  toJSON(): WindowState {
    return { low: this.low, above: [...this.above].sort((a, b) => a - b) };
  }

  private compact(): void {
    while (this.above.delete(this.low + 1)) this.low++;
  }

  private giveUpGap(): void {
    let min = Infinity;
    for (const s of this.above) if (s < min) min = s;
    this.above.delete(min);
    this.low = min;
    this.compact();
  }
}
