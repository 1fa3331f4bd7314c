import { MALFORMED_XML, type ParseResult } from './s3-error.js';
import { childElements, parseXmlRoot, textOf } from './xml.js';

/**
 * The keys named by a `POST /<bucket>?delete` (DeleteObjects) body:
 * `<Delete><Quiet>…</Quiet><Object><Key>…</Key><VersionId>…</VersionId></Object>…</Delete>`.
 * Keys are kept byte for byte (entities decoded, whitespace kept); a repeated key is returned
 * once per occurrence, as S3 reports each in its answer.
 */
export function parseDeleteObjectsKeys(xml: string): ParseResult<string[]> {
  const root = parseXmlRoot(xml);
  if (root?.localName !== 'Delete') return { ok: false, error: MALFORMED_XML };
  const keys: string[] = [];
  for (const element of childElements(root)) {
    if (element.localName === 'Quiet') continue;
    if (element.localName !== 'Object') return { ok: false, error: MALFORMED_XML };
    const key = childElements(element).find((field) => field.localName === 'Key');
    if (key === undefined) return { ok: false, error: MALFORMED_XML };
    keys.push(textOf(key));
  }
  if (keys.length === 0) return { ok: false, error: MALFORMED_XML };
  return { ok: true, value: keys };
}
