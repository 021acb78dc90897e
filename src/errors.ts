/**
 * Argument errors raised in TypeScript, worded like the native ones:
 * "Expected Float32Array for b but received Int32Array of length 12".
 * Type problems are TypeError with code ERR_SHEARS_INVALID_ARG_TYPE; value problems RangeError
 * with code ERR_SHEARS_OUT_OF_RANGE.
 */
export type ShearsErrorCode =
  | 'ERR_SHEARS_INVALID_ARG_TYPE'
  | 'ERR_SHEARS_OUT_OF_RANGE'
  | 'ERR_SHEARS_OUT_OF_MEMORY'
  | 'ERR_SHEARS_BUSY'
  | 'ERR_SHEARS_INTERNAL';

export function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (ArrayBuffer.isView(value)) {
    const len = 'length' in value ? (value as { length: number }).length : value.byteLength;
    return `${value.constructor.name} of length ${len}`;
  }
  if (Array.isArray(value)) return `Array of length ${value.length}`;
  if (typeof value === 'string') return `'${value}' of type string`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') {
    const name = (value as { constructor?: { name?: string } }).constructor?.name;
    return name && name !== 'Object' ? `a ${name}` : 'an object';
  }
  return `${String(value)} of type ${typeof value}`;
}

export function typeError(name: string, expected: string, value: unknown): TypeError {
  const err = new TypeError(`Expected ${expected} for ${name} but received ${describe(value)}`);
  (err as TypeError & { code: ShearsErrorCode }).code = 'ERR_SHEARS_INVALID_ARG_TYPE';
  return err;
}

export function rangeError(name: string, expected: string, value: unknown): RangeError {
  const err = new RangeError(`Expected ${expected} for ${name} but received ${describe(value)}`);
  (err as RangeError & { code: ShearsErrorCode }).code = 'ERR_SHEARS_OUT_OF_RANGE';
  return err;
}

/** An object asked to start work while its earlier work is still running (code ERR_SHEARS_BUSY). */
export function busyError(message: string): Error {
  const err = new Error(message);
  (err as Error & { code: ShearsErrorCode }).code = 'ERR_SHEARS_BUSY';
  return err;
}

/** Checks that `options` is undefined or a plain object; returns it (or {}). */
export function optionsObject<T extends object>(options: T | undefined, name = 'options'): Partial<T> {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object' || Array.isArray(options)) throw typeError(name, 'an object', options);
  return options;
}

/** A positive integer (block sizes, thread counts). */
export function positiveInteger(value: unknown, name: string, max = 2147483647): number {
  if (typeof value !== 'number') throw typeError(name, `integer between 1 and ${max}`, value);
  if (!Number.isInteger(value) || value < 1 || value > max) throw rangeError(name, `integer between 1 and ${max}`, value);
  return value;
}
