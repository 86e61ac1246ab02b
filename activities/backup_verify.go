package activities

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/opsrunbook/runbook/plan"
)

// BackupVerifySpec checks a backup against its manifest.
var BackupVerifySpec = &plan.ActionSpec{
	Name:        "backup.verify",
	Errors:      errorTypes(),
	Description: "Check a backup against its manifest: the archive's SHA-256, then a full read (every file of a tar.gz against its recorded checksum, or pg_restore --list of a database dump). A bad backup is the output ok=false with a reason, not a failure.",
	Heartbeats:  true,
	Inputs: []plan.Field{
		{Name: "path", Type: plan.StringType, Required: true, Description: "The archive; its manifest is PATH.manifest.json.", Role: plan.RolePath},
	},
	Outputs: []plan.Field{
		{Name: "ok", Type: plan.BoolType, Description: "Whether the backup is whole."},
		{Name: "reason", Type: plan.StringType, Description: "Why it is not, if it is not."},
		{Name: "files", Type: plan.IntType, Description: "Files (or dump entries) read back."},
	},
}

var _ = register(BackupVerifySpec, runBackupVerify)

type backupVerifyInput struct {
	Path string `json:"path"`
}

// runBackupVerify runs the backup.verify action.
func runBackupVerify(ctx context.Context, c call, vi backupVerifyInput) (map[string]any, error) {
	files, err := verifyBackup(ctx, vi.Path)
	out := map[string]any{"ok": err == nil, "reason": "", "files": int64(files)}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		out["reason"] = err.Error()
	}
	return out, nil
}

// verifyBackup returns the files read back, or why the backup is not whole.
func verifyBackup(ctx context.Context, path string) (int, error) {
	m, err := readManifest(path)
	if err != nil {
		return 0, err
	}
	sum, size, err := fileSHA256(path)
	if err != nil {
		return 0, fmt.Errorf("reading the archive: %w", err)
	}
	if sum != m.SHA256 || size != m.Bytes {
		return 0, fmt.Errorf("checksum mismatch: the manifest says %s (%d bytes), the archive is %s (%d bytes)", m.SHA256, m.Bytes, sum, size)
	}
	switch m.Kind {
	case "files":
		return readArchive(ctx, path, m)
	case "postgres":
		out, err := commandContext(ctx, nil, "pg_restore", "--list", path).CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("pg_restore --list: %v: %s", err, lastLine(string(out)))
		}
		return countDumpEntries(string(out)), nil
	}
	return 0, fmt.Errorf("unknown backup kind %q", m.Kind)
}

func readManifest(archive string) (*Manifest, error) {
	b, err := os.ReadFile(ManifestPath(archive))
	if err != nil {
		return nil, fmt.Errorf("no manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("unreadable manifest: %w", err)
	}
	return &m, nil
}

// readArchive reads every file of a tar.gz and checks it against the
// manifest's entries.
func readArchive(ctx context.Context, path string, m *Manifest) (int, error) {
	want := map[string]ManifestEntry{}
	for _, e := range m.Entries {
		want[e.Path] = e
	}
	n := 0
	err := walkArchive(path, func(hdr *tar.Header, r io.Reader) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		h := sha256.New()
		size, err := io.Copy(h, r)
		if err != nil {
			return err
		}
		e, ok := want[hdr.Name]
		switch {
		case !ok:
			return fmt.Errorf("%s is in the archive but not in the manifest", hdr.Name)
		case e.Size != size || e.SHA256 != hex.EncodeToString(h.Sum(nil)):
			return fmt.Errorf("%s does not match its checksum", hdr.Name)
		}
		n++
		return nil
	})
	if err != nil {
		return n, err
	}
	if n != m.Files {
		return n, fmt.Errorf("the archive holds %d files, the manifest %d", n, m.Files)
	}
	return n, nil
}

// walkArchive calls fn for each entry of a tar.gz.
func walkArchive(path string, fn func(*tar.Header, io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("not a gzip archive: %w", err)
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the archive: %w", err)
		}
		if err := fn(hdr, tr); err != nil {
			return err
		}
	}
}

func countDumpEntries(list string) int {
	n := 0
	for _, line := range splitLines(list) {
		if line != "" && line[0] != ';' {
			n++
		}
	}
	return n
}
