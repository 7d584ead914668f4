// Package embedded runs the project's infrastructure servers inside the
// current process: a JetStream-enabled NATS server, FerretDB (MongoDB wire
// protocol over SQLite files) and a Versity S3 gateway over a POSIX
// directory.
//
// It serves two callers: services/all, which runs every service in one
// binary as the development default, and pkg/testkit, which gives tests real
// protocol peers. It imports no testing code.
//
// All directories passed to this package must be absolute paths: StartS3
// changes the process working directory (see StartS3).
package embedded
