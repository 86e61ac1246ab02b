package activities

import (
	"context"

	"github.com/opsrunbook/runbook/plan"
)

// BackupListSpec finds the backups of a prefix.
var BackupListSpec = &plan.ActionSpec{
	Name:        "backup.list",
	Errors:      errorTypes(ErrObjectStore, plan.ErrUnreachable),
	Description: "List the backups of one prefix in a directory, newest first (by the time in their manifests); files without a manifest are not backups and are left out. A missing directory lists nothing.",
	Inputs: withS3([]plan.Field{
		{Name: "destination", Type: plan.StringType, Required: true, Description: "Directory of the backups.", Role: plan.RolePath},
		{Name: "prefix", Type: plan.StringType, Required: true, Description: "Only backups named PREFIX-<UTC stamp>.<ext> exactly (db never lists db-replica-…), whose manifest has that prefix."},
	}),
	Outputs: []plan.Field{
		{Name: "backups", Type: plan.ListOf(plan.StringType), Description: "Archive paths, newest first."},
		{Name: "latest", Type: plan.StringType, Description: "The newest archive, or \"\" when there is none."},
		{Name: "count", Type: plan.IntType, Description: "How many there are."},
	},
}

var _ = register(BackupListSpec, runBackupList)

type backupListInput struct {
	Destination string `json:"destination"`
	Prefix      string `json:"prefix"`
	s3Options
}

// runBackupList runs the backup.list action.
func runBackupList(ctx context.Context, c call, li backupListInput) (map[string]any, error) {
	if err := checkPrefix("backup.list", li.Prefix); err != nil {
		return nil, err
	}
	store, err := openDestination(ctx, "backup.list", li.Destination, li.s3Options)
	if err != nil {
		return nil, err
	}
	archives, err := backupsOf(ctx, store, li.Prefix)
	if err != nil {
		return nil, storeFailed("backup.list", err)
	}
	latest := ""
	if len(archives) > 0 {
		latest = archives[0].path
	}
	return map[string]any{"backups": paths(archives), "latest": latest, "count": int64(len(archives))}, nil
}
