// Package testkit gives tests real infrastructure: an in-process NATS
// server with JetStream, FerretDB (MongoDB wire protocol), a Versity S3
// gateway and Redis. It is imported only from _test.go files.
//
// NATS is fresh per call. FerretDB and S3 are started once per test binary
// and isolate tests by giving each one its own database or bucket. Redis is
// the shared server on 127.0.0.1:6379 with a key prefix per test.
//
// Starting S3 changes the process working directory to the gateway's
// object root (a Versity limitation, see embedded.StartS3). Tests that read
// files relative to their package directory must use Testdata or WorkDir,
// which remember the directory the test binary started in.
package testkit
