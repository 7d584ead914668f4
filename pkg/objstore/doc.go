// Package objstore is the S3 foundation: a small wrapper over minio-go v7
// bound to one bucket, with streaming Put/Get, Stat, Delete, recursive List
// and DeletePrefix, presigned PUT/GET URLs, and EnsureBucket for startup.
//
// It speaks plain S3 with SigV4, so the same code runs against MinIO, AWS S3
// and the embedded Versity gateway. Errors are classified once here:
// a missing object is ErrNotFound, an unreachable server satisfies
// IsUnavailable, and a key that could escape its prefix is ErrInvalidKey.
package objstore
