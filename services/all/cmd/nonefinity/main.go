// Command nonefinity runs the whole backend in one process on embedded
// infrastructure under DATA_DIR (default ./data): `make run`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/nonefinity/backend/pkg/config"
	"github.com/nonefinity/backend/services/all/internal/allinone"
)

// version is set at build time (-ldflags "-X main.version=…").
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "nonefinity:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	cfg, err := config.Load[allinone.Config]()
	if err != nil {
		return err
	}
	return allinone.Run(ctx, cfg, version)
}
