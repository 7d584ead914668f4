// Command embedserver runs one of pkg/embedded's servers as a process of its
// own, so make run-split can start, stop and kill the MongoDB-wire store and
// the S3 server apart from the services, as an operator's FerretDB and S3
// would be:
//
//	embedserver ferretdb -dir DATA/mongo -addr 127.0.0.1:27017
//	embedserver s3 -root DATA/s3/objects -meta DATA/s3/meta -secrets DATA -addr 127.0.0.1:9000
//
// The S3 keys come from the dev secrets file under -secrets (created when
// missing), never from the command line, where every local user could read
// them. It runs until SIGTERM or SIGINT.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/nonefinity/backend/pkg/embedded"
	"github.com/nonefinity/backend/services/all/internal/devsecrets"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "embedserver:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: embedserver ferretdb|s3 [flags]")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	switch args[0] {
	case "ferretdb":
		dir := fs.String("dir", "", "directory of the SQLite files (required)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		abs, err := absDir("-dir", *dir)
		if err != nil {
			return err
		}
		log := slog.New(slog.NewTextHandler(os.Stderr, nil))
		fdb, err := embedded.StartFerretDB(ctx, embedded.FerretOptions{Dir: abs, Addr: *addr, Logger: log})
		if err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, "ferretdb listening on", fdb.URI())
		<-ctx.Done()
		fdb.Close()
		return nil
	case "s3":
		root := fs.String("root", "", "directory of the buckets (required)")
		meta := fs.String("meta", "", "directory of the object metadata, outside -root (required)")
		secrets := fs.String("secrets", "", "directory of "+devsecrets.File+", which holds the S3 keys (required)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		// Absolute before the server starts: it changes the working directory.
		var dirs [3]string
		for i, d := range [][2]string{{"-root", *root}, {"-meta", *meta}, {"-secrets", *secrets}} {
			abs, err := absDir(d[0], d[1])
			if err != nil {
				return err
			}
			dirs[i] = abs
		}
		keys, _, err := devsecrets.LoadOrCreate(dirs[2])
		if err != nil {
			return err
		}
		s3, err := embedded.StartS3(ctx, embedded.S3Options{
			RootDir: dirs[0], SidecarDir: dirs[1], Addr: *addr, AccessKey: keys.S3AccessKey, SecretKey: keys.S3SecretKey,
		})
		if err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, "s3 listening on", s3.Endpoint())
		<-ctx.Done()
		s3.Stop()
		return nil
	}
	return fmt.Errorf("unknown server %q: ferretdb or s3", args[0])
}

func absDir(flagName, dir string) (string, error) {
	if dir == "" {
		return "", fmt.Errorf("%s is required", flagName)
	}
	return filepath.Abs(dir)
}
