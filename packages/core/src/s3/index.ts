export { classifyS3Error, isObjectNotFound, s3ErrorCode } from './classify-error.js';
export { assertListingOf, classifySourceError, isSourceObjectGone } from './source-absence.js';
export {
  BUCKET_PLACEHOLDER,
  backupBucket,
  backupKey,
  backupKeyFits,
  backupKeyPrefix,
  backupNamingProblem,
  sharedKeyPrefix,
  type BackupLocation,
} from './backup-naming.js';
export { checkBucket, isBucketRefusal, type BucketTarget } from './bucket-check.js';
export { createS3Client, type S3ClientOptions } from './client.js';
export { contentHeaders } from './content-headers.js';
export {
  PROVENANCE_ETAG,
  PROVENANCE_LAST_MODIFIED,
  PROVENANCE_METADATA_NAMES,
  normalizeETag,
  provenanceMatches,
  provenanceMetadata,
  provenanceTimestamp,
  sameSourceState,
  type BackupState,
  type SourceState,
} from './provenance.js';
export {
  PROVENANCE_TAGS,
  sameTags,
  tagMap,
  taggingHeader,
  tagsDigest,
  tagsMatch,
  tagsMetadata,
  type ObjectTag,
} from './tags.js';
