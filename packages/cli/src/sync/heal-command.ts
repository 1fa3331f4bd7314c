/** What a verify found, as far as choosing the resync that heals it goes. */
export interface Findings {
  readonly bucket: string;
  readonly prefix: string;
  readonly missing: number;
  readonly different: number;
  readonly extra: number;
  /** Some key's bytes differ while its provenance metadata matches (only `--deep` sees that). */
  readonly contentDiffers: boolean;
  /** Some key differs only in its tags. */
  readonly tagsDiffer: boolean;
  /** Whether the workers delete backup objects (REPLICATE_DELETES and DELETE_LIMIT). */
  readonly deletesOn: boolean;
}

/**
 * The `s3relay resync` command line that makes the backup equal to the source again, quoted for
 * a POSIX shell: `--deep` when bytes differ under matching metadata (a plain resync trusts the
 * metadata and would enqueue nothing), `--tags` when tags differ, `--delete` for extras when the
 * workers delete at all.
 */
export function healCommand(findings: Findings): string {
  const words = ['s3relay', 'resync', '--bucket', shellWord(findings.bucket)];
  if (findings.prefix !== '') words.push('--prefix', shellWord(findings.prefix));
  if (findings.contentDiffers) words.push('--deep');
  if (findings.tagsDiffer) words.push('--tags');
  if (findings.extra > 0 && findings.deletesOn) words.push('--delete');
  return words.join(' ');
}

/** A word the shell passes through as it is: bare when safe, else in single quotes. */
export function shellWord(text: string): string {
  if (/^[\w./:@%+=,-]+$/.test(text)) return text;
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
