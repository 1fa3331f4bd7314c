import { escapeXml } from './xml.js';

/** An S3 error answer: the HTTP status and the `<Error>` document's fields. */
export interface S3ErrorReply {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  /** Extra elements of `<Error>`, as S3 adds them (`BucketName`, `ArgumentName`, …). */
  readonly details?: Readonly<Record<string, string>>;
}

/** The outcome of parsing a request body: the value, or the S3 error to answer with. */
export type ParseResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: S3ErrorReply };

/** S3's answer to a body that is not the expected XML document. */
export const MALFORMED_XML: S3ErrorReply = {
  status: 400,
  code: 'MalformedXML',
  message:
    'The XML you provided was not well-formed or did not validate against our published schema',
};

/** S3's answer to an argument it understood but does not accept. */
export function invalidArgument(
  message: string,
  argumentName?: string,
  argumentValue?: string,
): S3ErrorReply {
  const details: Record<string, string> = {};
  if (argumentName !== undefined) details.ArgumentName = argumentName;
  if (argumentValue !== undefined) details.ArgumentValue = argumentValue;
  return { status: 400, code: 'InvalidArgument', message, details };
}

/** The XML body of an S3 error answer. */
export function s3ErrorXml(error: S3ErrorReply, resource: string, requestId: string): string {
  const details = Object.entries(error.details ?? {})
    .map(([name, value]) => `<${name}>${escapeXml(value)}</${name}>`)
    .join('');
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${escapeXml(error.code)}</Code><Message>${escapeXml(error.message)}</Message>` +
    `${details}<Resource>${escapeXml(resource)}</Resource><RequestId>${escapeXml(requestId)}</RequestId></Error>`
  );
}
