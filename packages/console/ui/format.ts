const integer = new Intl.NumberFormat('en', { maximumFractionDigits: 0 });

/** 1234 → "1,234"; undefined → "–". */
export function count(value: number | undefined): string {
  return value === undefined ? '–' : integer.format(value);
}

/** A rate with enough digits to tell 0.2/s from 0. */
export function rate(value: number | undefined): string {
  if (value === undefined) return '–';
  if (value === 0) return '0';
  if (value < 10) return value.toFixed(value < 1 ? 2 : 1);
  return integer.format(value);
}

export function bytes(value: number | undefined): string {
  if (value === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let size = value;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit += 1;
  }
  return `${size.toFixed(size < 10 && unit > 0 ? 1 : 0)} ${units[unit] ?? ''}`;
}

/** Seconds as a person reads them: 85 ms, 3.2 s, 4.5 min, 2.1 h. */
export function seconds(value: number | undefined | null): string {
  if (value === undefined || value === null) return '–';
  if (value < 1) return `${Math.round(value * 1000)} ms`;
  if (value < 60) return `${value.toFixed(1)} s`;
  if (value < 3600) return `${(value / 60).toFixed(1)} min`;
  return `${(value / 3600).toFixed(1)} h`;
}

/** How long ago, coarsely: "4 s", "3 min", "2 h". */
export function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}

/** A time of day in the viewer's zone; the date too when not today. */
export function time(value: number | string | undefined): string {
  if (value === undefined) return '–';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  const today = new Date().toDateString() === date.toDateString();
  return today
    ? date.toLocaleTimeString('en-GB')
    : `${date.toLocaleDateString('en-CA')} ${date.toLocaleTimeString('en-GB')}`;
}

/** "3 tasks", "1 task". */
export function plural(n: number, word: string): string {
  return `${count(n)} ${word}${n === 1 ? '' : 's'}`;
}
