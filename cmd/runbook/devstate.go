package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/opsrunbook/runbook/devserver"
)

// runbook dev's state (its --dir) holds every run's inputs and outputs and
// the dev tokens: the directory is 0700 and every file in it 0600, whatever
// the umask and whatever an earlier version left.
const (
	devDirMode  = 0o700
	devFileMode = 0o600
)

// devDatabases are the SQLite files runbook dev keeps in its directory.
var devDatabases = []string{"runbook.db", "temporal.db"}

// openStateDir creates dir 0700 (an existing one is made 0700), creates
// the records' database 0600 before SQLite opens it, so that SQLite gives
// its -wal and -shm files that mode too (devserver does the same for
// Temporal's), and makes the state files that exist 0600.
func openStateDir(dir string) error {
	if err := os.MkdirAll(dir, devDirMode); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	if err := os.Chmod(dir, devDirMode); err != nil {
		return fmt.Errorf("state directory %s cannot be made private: %w", dir, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "runbook.db"), os.O_CREATE|os.O_RDWR, devFileMode)
	if err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	f.Close()
	return privateState(dir)
}

// privateState makes runbook dev's state files that exist 0600; it runs
// again once the databases are open, for the -wal and -shm files.
func privateState(dir string) error {
	for _, db := range devDatabases {
		if err := devserver.PrivateFiles(filepath.Join(dir, db)); err != nil {
			return fmt.Errorf("state directory: %w", err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "tokens.env"), devFileMode); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("state directory: %w", err)
	}
	return nil
}
