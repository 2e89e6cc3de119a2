/** The in-process `SharedTable`: for jobs run in this process, and for child processes through their parent. */
import type { SharedTable } from './types.js';

export class MemoryTable implements SharedTable {
  private readonly tables = new Map<string, Map<string, number>>();

  async record(name: string, member: string, value: number): Promise<Record<string, number>> {
    let t = this.tables.get(name);
    if (t === undefined) this.tables.set(name, (t = new Map()));
    t.set(member, value);
    return Object.fromEntries(t);
  }
}
