/** The longest bucket name S3 ever allowed (legacy US East names); today's rules allow 63. */
export const MAX_BUCKET_NAME_LENGTH = 255;

const ALLOWED_CHARACTERS = /^[A-Za-z0-9._-]+$/;
const ALPHANUMERIC_ENDS = /^[A-Za-z0-9](?:.*[A-Za-z0-9])?$/s;
const IPV4_LIKE = /^\d{1,3}(?:\.\d{1,3}){3}$/;

/**
 * Why `name` is not an S3 bucket name, or undefined when it is one. S3's rules, widened where
 * buckets that exist would fail them: 3 to 255 characters (63 since 2018, but older US East
 * buckets are longer), letters of either case (as those, VK Cloud's and Ceph's relaxed names),
 * digits, `.`, `-` and `_`; a letter or digit first and last; no `..`; not an IPv4 address. So a
 * name is never an option (`-rf`), a path (`/`, `..`) or a line of its own in what is passed on
 * to an action script.
 */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > MAX_BUCKET_NAME_LENGTH) {
    return `must be 3 to ${MAX_BUCKET_NAME_LENGTH} characters long`;
  }
  if (!ALLOWED_CHARACTERS.test(name)) {
    return 'may hold only letters, digits, ".", "-" and "_"';
  }
  if (!ALPHANUMERIC_ENDS.test(name)) return 'must begin and end with a letter or digit';
  if (name.includes('..')) return 'must not hold two periods in a row';
  if (IPV4_LIKE.test(name)) return 'must not be an IP address';
  return undefined;
}
