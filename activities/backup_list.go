package activities

import (
	"context"
	"fmt"
	"os"

	"github.com/opsrunbook/runbook/plan"
)

// BackupListSpec finds the backups of a prefix.
var BackupListSpec = &plan.ActionSpec{
	Name:        "backup.list",
	Errors:      errorTypes(),
	Description: "List the backups of one prefix in a directory, newest first (by the time in their manifests); files without a manifest are not backups and are left out. A missing directory lists nothing.",
	Inputs: []plan.Field{
		{Name: "destination", Type: plan.StringType, Required: true, Description: "Directory of the backups.", Role: plan.RolePath},
		{Name: "prefix", Type: plan.StringType, Required: true, Description: "Only backups named PREFIX-<UTC stamp>.<ext> exactly (db never lists db-replica-…), whose manifest has that prefix."},
	},
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
}

// runBackupList runs the backup.list action.
func runBackupList(ctx context.Context, c call, li backupListInput) (map[string]any, error) {
	if err := checkPrefix("backup.list", li.Prefix); err != nil {
		return nil, err
	}
	if err := checkDestination("backup.list", li.Destination); err != nil {
		return nil, err
	}
	archives, err := backupsOf(li.Destination, li.Prefix)
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("backup.list: %w", err)
	}
	latest := ""
	if len(archives) > 0 {
		latest = archives[0].path
	}
	return map[string]any{"backups": paths(archives), "latest": latest, "count": int64(len(archives))}, nil
}
