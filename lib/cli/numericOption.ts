// Numeric command-line options: whole decimal numbers in a range, refused with the option's name,
// what was given and what is accepted (a NaN timeout would make every fence "time out after NaN
// ms" forever; a port out of range fails only after the daemon has configured fs/dlm).
import { CliError, EXIT } from './output.js';

export function intOption(flag: string, value: string | undefined, range: { min: number; max: number; unit?: string }): number {
  const text = (value ?? '').trim();
  const n = /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < range.min || n > range.max) {
    throw new CliError(`${flag} ${JSON.stringify(value ?? '')}: ${range.unit ? `${range.unit}, ` : ''}a whole number from ${range.min} to ${range.max}`, EXIT.USAGE);
  }
  return n;
}
