package activities

import (
	"context"
	"sort"
	"time"

	"github.com/opsrunbook/runbook/plan"
)

// BackupPruneSpec removes old backups.
var BackupPruneSpec = &plan.ActionSpec{
	Name:        "backup.prune",
	Errors:      errorTypes(ErrObjectStore, plan.ErrUnreachable),
	Description: "Remove old backups of one prefix from a directory: keep the newest N and/or those newer than an age. The newest backup that verifies is never removed, so pruning cannot leave no good backup.",
	Heartbeats:  true,
	Inputs: withS3([]plan.Field{
		{Name: "destination", Type: plan.StringType, Required: true, Description: "Directory of the backups.", Role: plan.RolePath},
		{Name: "prefix", Type: plan.StringType, Required: true, Description: "Only backups named PREFIX-<UTC stamp>.<ext> exactly, whose manifest has that prefix."},
		{Name: "keep", Type: plan.IntType, Default: int64(0), Description: "Keep the newest N (0: no count rule)."},
		{Name: "maxAge", Type: plan.DurationType, Description: "Keep backups newer than this."},
		{Name: "dryRun", Type: plan.BoolType, Default: false, Description: "Report what would be removed, remove nothing."},
	}),
	Outputs: []plan.Field{
		{Name: "removed", Type: plan.ListOf(plan.StringType), Description: "Archives removed (or that would be, with dryRun)."},
		{Name: "kept", Type: plan.ListOf(plan.StringType), Description: "Archives kept, newest first."},
	},
}

var _ = register(BackupPruneSpec, runBackupPrune)

type pruneInput struct {
	Destination string `json:"destination"`
	Prefix      string `json:"prefix"`
	Keep        int    `json:"keep"`
	MaxAge      string `json:"maxAge"`
	DryRun      bool   `json:"dryRun"`
	s3Options
}

// runBackupPrune runs the backup.prune action.
func runBackupPrune(ctx context.Context, c call, pi pruneInput) (map[string]any, error) {
	var maxAge time.Duration
	if pi.MaxAge != "" {
		d, err := plan.ParseDuration(pi.MaxAge)
		if err != nil || d <= 0 {
			return nil, badInput("backup.prune: maxAge %q: must be a positive duration", pi.MaxAge)
		}
		maxAge = d
	}
	if pi.Keep <= 0 && maxAge == 0 {
		return nil, badInput("backup.prune: give keep, maxAge or both; pruning everything is not a policy")
	}
	if err := checkPrefix("backup.prune", pi.Prefix); err != nil {
		return nil, err
	}
	store, err := openDestination(ctx, "backup.prune", pi.Destination, pi.s3Options)
	if err != nil {
		return nil, err
	}
	archives, err := backupsOf(ctx, store, pi.Prefix)
	if err != nil {
		return nil, storeFailed("backup.prune", err)
	}
	now := time.Now()
	var keep, remove []backupFile
	for i, b := range archives {
		if i < pi.Keep || maxAge > 0 && now.Sub(b.created) < maxAge {
			keep = append(keep, b)
		} else {
			remove = append(remove, b)
		}
	}
	// Never leave no verified backup: keep the newest one that verifies.
	if !anyVerifies(ctx, store, keep) {
		for i, b := range remove {
			if _, err := verifyIn(ctx, store, b.name, false); err == nil {
				keep = append(keep, b)
				remove = append(remove[:i], remove[i+1:]...)
				break
			}
		}
	}
	out := map[string]any{"removed": paths(remove), "kept": paths(keep)}
	if pi.DryRun {
		return out, nil
	}
	for _, b := range remove {
		if err := store.remove(ctx, b.name); err != nil {
			return nil, storeFailed("backup.prune", err)
		}
	}
	return out, nil
}

// backupsOf lists the backups of a prefix, newest first: those named
// PREFIX-<UTC stamp>.<ext> exactly (db never takes db-replica-…) whose
// manifest says the same prefix and kind.
func backupsOf(ctx context.Context, s backupStore, prefix string) ([]backupFile, error) {
	names, err := s.names(ctx, prefix)
	if err != nil {
		return nil, err
	}
	var out []backupFile
	for _, name := range names {
		a, _, ok := parseBackupName(prefix, name)
		if !ok {
			continue
		}
		m, err := s.manifest(ctx, name)
		if isAppErr(err) {
			return nil, err
		}
		if err != nil || !a.describes(m) || m.Prefix != "" && m.Prefix != prefix {
			continue // not a backup of this prefix this action made
		}
		out = append(out, backupFile{name: name, path: s.path(name), created: m.Created})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].created.After(out[j].created) })
	return out, nil
}

func anyVerifies(ctx context.Context, s backupStore, bs []backupFile) bool {
	for _, b := range bs {
		if _, err := verifyIn(ctx, s, b.name, false); err == nil {
			return true
		}
	}
	return false
}

func paths(bs []backupFile) []any {
	out := []any{}
	for _, b := range bs {
		out = append(out, b.path)
	}
	return out
}
