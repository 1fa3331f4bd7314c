import type { GetObjectCommandOutput, PutObjectCommandInput } from '@aws-sdk/client-s3';

/**
 * The content headers a copy carries over from the GET of its original: Content-Type,
 * -Encoding, -Disposition, -Language, Cache-Control and Expires (an unparsable Expires is left
 * out rather than sent as an invalid date).
 */
export function contentHeaders(response: GetObjectCommandOutput): Partial<PutObjectCommandInput> {
  const headers: Partial<PutObjectCommandInput> = {};
  if (response.ContentType !== undefined) headers.ContentType = response.ContentType;
  if (response.ContentEncoding !== undefined) headers.ContentEncoding = response.ContentEncoding;
  if (response.ContentDisposition !== undefined) {
    headers.ContentDisposition = response.ContentDisposition;
  }
  if (response.ContentLanguage !== undefined) headers.ContentLanguage = response.ContentLanguage;
  if (response.CacheControl !== undefined) headers.CacheControl = response.CacheControl;
  if (response.Expires !== undefined && !Number.isNaN(response.Expires.getTime())) {
    headers.Expires = response.Expires;
  }
  return headers;
}
