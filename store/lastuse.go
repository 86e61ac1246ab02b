package store

import (
	"context"
	"sync"
	"time"

	"gorm.io/gorm"
)

// lastUse records tokens' last use off the request path: authentication
// reads and never waits for a write, so a locked SQLite or a slow
// Postgres does not fail or hold reads. A use is noted in memory (to
// LastUseResolution), written by one background writer, and shown by
// Tokens and FindToken at once. A write that fails is retried at the
// token's next use after LastUseResolution.
type lastUse struct {
	// db writes the times: for SQLite a connection of its own, so that
	// waiting out another process's lock holds no connection requests read
	// through.
	db      *gorm.DB
	timeout func() time.Duration

	mu      sync.Mutex
	seen    map[uint]time.Time // the latest use noted, per token
	pending map[uint]time.Time // noted, not yet written
	running bool
	done    sync.WaitGroup
}

func newLastUse(db *gorm.DB, timeout func() time.Duration) *lastUse {
	return &lastUse{db: db, timeout: timeout, seen: map[uint]time.Time{}, pending: map[uint]time.Time{}}
}

// note records that token id (last use stored) is used at now.
func (l *lastUse) note(id uint, stored *time.Time, now time.Time) {
	now = now.Truncate(time.Microsecond) // what Postgres keeps
	l.mu.Lock()
	defer l.mu.Unlock()
	last, ok := l.seen[id]
	if stored != nil && (!ok || stored.After(last)) {
		last, ok = *stored, true
	}
	if ok && now.Sub(last) < LastUseResolution {
		return
	}
	l.seen[id], l.pending[id] = now, now
	if !l.running {
		l.running = true
		l.done.Add(1)
		go l.write()
	}
}

// write writes pending uses until none is left.
func (l *lastUse) write() {
	defer l.done.Done()
	for {
		l.mu.Lock()
		batch := l.pending
		if len(batch) == 0 {
			l.running = false
			l.mu.Unlock()
			return
		}
		l.pending = map[uint]time.Time{}
		l.mu.Unlock()
		for id, at := range batch {
			ctx, cancel := context.WithTimeout(context.Background(), l.timeout())
			// Never moves a later time back (another replica's).
			l.db.WithContext(ctx).Model(&Token{}).Where("id = ? AND (last_used_at IS NULL OR last_used_at < ?)", id, at).Update("last_used_at", at)
			cancel()
		}
	}
}

// overlay shows the uses noted but maybe not yet written.
func (l *lastUse) overlay(ts []Token) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range ts {
		if at, ok := l.seen[ts[i].ID]; ok && (ts[i].LastUsedAt == nil || at.After(*ts[i].LastUsedAt)) {
			at := at
			ts[i].LastUsedAt = &at
		}
	}
}

// wait waits for the writer to finish.
func (l *lastUse) wait() { l.done.Wait() }
