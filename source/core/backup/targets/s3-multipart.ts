/* Multipart sizes, apart from s3-target.ts so that checking settings does not load the AWS SDK. */

/** S3's minimum for every part but the last. */
export const MIN_PART_SIZE_BYTES = 5 * 1024 * 1024;
/**
 * 8 MiB parts, 4 in flight: about 40 MiB of buffers per upload whatever the artifact's size,
 * and up to 78 GiB per object within S3's 10,000-part limit (the size of a streamed dump is not
 * known up front, so the part size cannot adapt). Larger artifacts need a larger part size.
 */
export const DEFAULT_PART_SIZE_BYTES = 8 * 1024 * 1024;
export const DEFAULT_QUEUE_SIZE = 4;
