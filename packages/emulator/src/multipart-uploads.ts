import { readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { escapeXml } from './xml.js';

/** A multipart upload that was created and neither completed nor aborted. */
export interface OpenUpload {
  readonly key: string;
  readonly uploadId: string;
  readonly initiated: Date;
}

/**
 * Where s3rver keeps a bucket's multipart uploads: one directory per upload id holding the key,
 * the metadata and the parts, removed when the upload completes. s3rver has neither
 * ListMultipartUploads nor AbortMultipartUpload; reading and removing these directories gives
 * both, and survives restarts of the emulator as s3rver's own state does.
 */
function uploadsDirectory(directory: string, bucket: string): string {
  return join(directory, bucket, '._S3rver_uploads');
}

/** A safe single path segment: s3rver's ids are hex, anything else names no upload. */
function isUploadId(uploadId: string): boolean {
  return /^[A-Za-z0-9_-]{1,200}$/.test(uploadId);
}

/** The open uploads of `bucket`, in no particular order. */
export async function listOpenUploads(directory: string, bucket: string): Promise<OpenUpload[]> {
  const root = uploadsDirectory(directory, bucket);
  let ids: string[];
  try {
    ids = await readdir(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const uploads = await Promise.all(
    ids.map(async (uploadId): Promise<OpenUpload | undefined> => {
      const keyFile = join(root, uploadId, 'key');
      try {
        const [key, info] = await Promise.all([readFile(keyFile, 'utf8'), stat(keyFile)]);
        return { key, uploadId, initiated: info.mtime };
      } catch {
        // A part that arrived after its upload was aborted recreates a directory without a key.
        return undefined;
      }
    }),
  );
  return uploads.filter((upload): upload is OpenUpload => upload !== undefined);
}

/** True when `uploadId` is an open upload of `bucket`. */
export async function uploadExists(
  directory: string,
  bucket: string,
  uploadId: string,
): Promise<boolean> {
  if (!isUploadId(uploadId)) return false;
  try {
    await stat(join(uploadsDirectory(directory, bucket), uploadId, 'key'));
    return true;
  } catch {
    return false;
  }
}

/** Removes an open upload and its parts; false when there was none. */
export async function abortUpload(
  directory: string,
  bucket: string,
  uploadId: string,
): Promise<boolean> {
  if (!(await uploadExists(directory, bucket, uploadId))) return false;
  await rm(join(uploadsDirectory(directory, bucket), uploadId), { recursive: true, force: true });
  return true;
}

/** The request parameters of ListMultipartUploads that shape its answer. */
export interface ListUploadsQuery {
  readonly prefix?: string;
  readonly keyMarker?: string;
  readonly uploadIdMarker?: string;
  readonly maxUploads?: number;
  /** `encoding-type=url`: keys in the answer are URL-encoded. */
  readonly urlEncoded?: boolean;
}

/** Reads the ListMultipartUploads parameters of a request's query string. */
export function listUploadsQuery(query: URLSearchParams): ListUploadsQuery {
  const max = Number(query.get('max-uploads') ?? 1000);
  return {
    prefix: query.get('prefix') ?? '',
    keyMarker: query.get('key-marker') ?? '',
    uploadIdMarker: query.get('upload-id-marker') ?? '',
    maxUploads: Number.isInteger(max) && max > 0 ? Math.min(max, 1000) : 1000,
    urlEncoded: query.get('encoding-type') === 'url',
  };
}

/**
 * The `ListMultipartUploadsResult` document for the open uploads of `bucket`: one page after the
 * markers, in S3's order (by key, then initiation).
 */
export function listMultipartUploadsXml(
  bucket: string,
  uploads: readonly OpenUpload[],
  query: ListUploadsQuery,
): string {
  const prefix = query.prefix ?? '';
  const keyMarker = query.keyMarker ?? '';
  const uploadIdMarker = query.uploadIdMarker ?? '';
  const maxUploads = query.maxUploads ?? 1000;
  const keyText = (key: string) =>
    escapeXml(query.urlEncoded === true ? encodeURIComponent(key) : key);
  const candidates = uploads
    .filter((u) => u.key.startsWith(prefix))
    .sort((a, b) =>
      a.key === b.key ? a.initiated.getTime() - b.initiated.getTime() : a.key < b.key ? -1 : 1,
    );
  const markerIndex = candidates.findIndex(
    (u) => u.key === keyMarker && u.uploadId === uploadIdMarker,
  );
  const afterMarker = candidates.filter((u, index) => {
    if (keyMarker === '' || u.key > keyMarker) return true;
    if (u.key < keyMarker || uploadIdMarker === '') return false;
    return markerIndex >= 0 && index > markerIndex;
  });
  const page = afterMarker.slice(0, maxUploads);
  const truncated = afterMarker.length > page.length;
  const last = page.at(-1);
  const owner = '<ID>s3relay-emulator</ID><DisplayName>s3relay-emulator</DisplayName>';
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
    `<Bucket>${escapeXml(bucket)}</Bucket>`,
    `<KeyMarker>${keyText(keyMarker)}</KeyMarker>`,
    `<UploadIdMarker>${escapeXml(uploadIdMarker)}</UploadIdMarker>`,
    truncated && last !== undefined
      ? `<NextKeyMarker>${keyText(last.key)}</NextKeyMarker>` +
        `<NextUploadIdMarker>${escapeXml(last.uploadId)}</NextUploadIdMarker>`
      : '',
    prefix === '' ? '' : `<Prefix>${keyText(prefix)}</Prefix>`,
    query.urlEncoded === true ? '<EncodingType>url</EncodingType>' : '',
    `<MaxUploads>${maxUploads}</MaxUploads>`,
    `<IsTruncated>${String(truncated)}</IsTruncated>`,
    ...page.map(
      (u) =>
        `<Upload><Key>${keyText(u.key)}</Key><UploadId>${escapeXml(u.uploadId)}</UploadId>` +
        `<Initiator>${owner}</Initiator><Owner>${owner}</Owner>` +
        `<StorageClass>STANDARD</StorageClass><Initiated>${u.initiated.toISOString()}</Initiated></Upload>`,
    ),
    '</ListMultipartUploadsResult>',
  ].join('');
}
