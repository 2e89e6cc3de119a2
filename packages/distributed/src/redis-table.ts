/** The `SharedTable` of jobs run by Redis workers: one Redis hash per table, kept for a day after its last write. */
import type { Redis as RedisClient } from 'ioredis';
import type { SharedTable } from './types.js';

export class RedisTable implements SharedTable {
  constructor(private readonly client: RedisClient, private readonly keyPrefix: string) {}

  async record(name: string, member: string, value: number): Promise<Record<string, number>> {
    const key = `${this.keyPrefix}:shared:${name}`;
    const replies = await this.client.multi().hset(key, member, String(value)).expire(key, 86_400).hgetall(key).exec();
    const all = (replies?.[2]?.[1] ?? {}) as Record<string, string>;
    return Object.fromEntries(Object.entries(all).map(([k, v]) => [k, Number(v)]));
  }
}
