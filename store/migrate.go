package store

import (
	"fmt"

	"gorm.io/gorm"
)

// runIDColumns are the columns that hold run ids (RunIDSize).
var runIDColumns = [][2]string{{"runs", "id"}, {"step_events", "run_id"}, {"votes", "run_id"}}

// widenRunIDs makes the run id columns of records made when they held 120
// characters hold RunIDSize, keeping their rows: AutoMigrate widens the
// others but leaves a primary key as it is. SQLite does not bound varchar,
// so only Postgres has anything to widen.
func widenRunIDs(db *gorm.DB) error {
	if db.Dialector.Name() != "postgres" {
		return nil
	}
	for _, tc := range runIDColumns {
		var n int
		err := db.Raw(`SELECT COALESCE(character_maximum_length, 0) FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = ? AND column_name = ?`, tc[0], tc[1]).Scan(&n).Error
		if err != nil {
			return err
		}
		if n > 0 && n < RunIDSize {
			if err := db.Exec(fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s TYPE varchar(%d)", tc[0], tc[1], RunIDSize)).Error; err != nil {
				return fmt.Errorf("widen %s.%s: %w", tc[0], tc[1], err)
			}
		}
	}
	return nil
}

// addLastSeq gives log chunks written before the last_seq column theirs,
// in one statement, in the transaction that adds the column (so a chunk
// never keeps the default 0). AutoMigrate then adds its index.
func addLastSeq(db *gorm.DB) error {
	m := db.Migrator()
	if !m.HasTable(&LogChunk{}) || m.HasColumn(&LogChunk{}, "LastSeq") {
		return nil
	}
	err := db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Migrator().AddColumn(&LogChunk{}, "LastSeq"); err != nil {
			return err
		}
		return tx.Exec("UPDATE log_chunks SET last_seq = first_seq + lines - 1").Error
	})
	if err != nil && m.HasColumn(&LogChunk{}, "LastSeq") {
		return nil // another process added it first
	}
	if err != nil {
		return fmt.Errorf("add log_chunks.last_seq: %w", err)
	}
	return nil
}
