// Command ferretdb-launcher runs FerretDB 1.24 in-process, so that ssp's
// tests have a MongoDB-protocol server without Docker or a mongod package.
//
// It exists because `go install github.com/FerretDB/FerretDB/cmd/ferretdb`
// builds a binary that panics at start-up: that command reads
// build/version/version.txt, which is not part of the Go module. The
// embeddable package github.com/FerretDB/FerretDB/ferretdb does not need it.
//
// Usage:
//
//	ferretdb-launcher -listen 127.0.0.1:0 -sqlite DIR
//	ferretdb-launcher -listen 127.0.0.1:27017 -postgresql postgres://127.0.0.1:5432/ferretdb
//
// Once the listener is bound it prints the MongoDB URI (one line) on stdout;
// with port 0 the URI names the port the kernel chose. Logs go to stderr.
// SIGINT or SIGTERM stops it cleanly.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "TCP address to listen on (port 0: any free port)")
	sqliteDir := flag.String("sqlite", "", "directory of the SQLite backend (created if missing)")
	postgresURL := flag.String("postgresql", "", "PostgreSQL URL (instead of -sqlite)")
	logLevel := flag.String("log-level", "warn", "log level on stderr: debug, info, warn or error")
	flag.Parse()

	if err := run(*listen, *sqliteDir, *postgresURL, *logLevel); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-launcher: %s\n", err)
		os.Exit(1)
	}
}

func run(listen, sqliteDir, postgresURL, logLevel string) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("bad -log-level %q: %w", logLevel, err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	config := &ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: listen},
		Logger:   logger,
	}
	switch {
	case sqliteDir != "" && postgresURL != "":
		return fmt.Errorf("give -sqlite or -postgresql, not both")
	case postgresURL != "":
		config.Handler = "postgresql"
		config.PostgreSQLURL = postgresURL
	case sqliteDir != "":
		abs, err := filepath.Abs(sqliteDir)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(abs, 0o700); err != nil {
			return err
		}
		config.Handler = "sqlite"
		// FerretDB treats the URL as a directory only with the trailing slash.
		config.SQLiteURL = "file:" + abs + "/"
	default:
		return fmt.Errorf("give -sqlite DIR or -postgresql URL")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// New binds the listener, so the URI is valid (and the port known) before Run.
	f, err := ferretdb.New(config)
	if err != nil {
		return err
	}
	fmt.Println(f.MongoDBURI())

	// Run returns once ctx is cancelled and open connections are closed.
	return f.Run(ctx)
}
