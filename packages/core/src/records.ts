/**
 * Records keyed by names users choose (input fields, labels, request fields, plugin options). A plain `{}`
 * answers `constructor`, `toString` or `hasOwnProperty` from Object.prototype and turns an assignment to
 * `__proto__` into a prototype change; these helpers make such names ordinary keys. `JSON.stringify`
 * writes them like any other (`{"__proto__": 0.7}`), and `JSON.parse` reads them back as own keys.
 */

/** An empty record without a prototype: every key, `__proto__` included, is an own key. */
export function createRecord<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/** `record[key]` when it is the record's own key, else undefined (never an inherited member). */
export function ownValue<T>(record: Readonly<Record<string, T>> | undefined | null, key: string): T | undefined {
  return record !== undefined && record !== null && Object.hasOwn(record, key) ? record[key] : undefined;
}
