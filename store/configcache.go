package store

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"github.com/opsrunbook/runbook/plan"
)

// A process keeps what every start reads and writes rarely change: the
// latest version of each runbook, the compiled freezes and, on Postgres,
// the tokens it authenticated (on 2 cores, each read was a round trip
// waiting for a pool connection). On Postgres, a write of any of them (a
// token's revocation) notifies on ConfigChannel in its transaction, and
// each process listens on a connection of its own, opened at its first
// such read: a notification empties the cache, and so does a write
// through the process at its commit. While the listening connection is
// not up, nothing is kept; and nothing is kept longer than ConfigMaxAge,
// should a connection die unnoticed. On SQLite, which one API process
// uses, its own writes of runbooks and freezes are the only ones: there
// is nothing to listen to.
const (
	ConfigChannel = "runbook_config"
	ConfigMaxAge  = time.Second
)

// configCache is a process's cache of the latest versions, freezes and
// tokens.
type configCache struct {
	dsn string // Postgres's, to listen on; "" for SQLite

	mu      sync.Mutex
	gen     uint64 // moves at every change: a read begun before it is not kept
	live    bool   // listening
	started bool   // listening, or the store closed: never started again
	stop    context.CancelFunc
	done    chan struct{}
	latest  map[string]kept[RunbookVersion]   // by runbook name
	freezes map[struct{}]kept[[]*plan.Freeze] // the one entry, all of them
	tokens  map[string]kept[Token]            // by hash; Postgres only
}

// kept is a value as read at at (before the read began).
type kept[V any] struct {
	v  V
	at time.Time
}

// lookup is m's value for k, while live and younger than ConfigMaxAge
// (c not nil).
func lookup[K comparable, V any](c *configCache, m *map[K]kept[V], k K) (V, bool) {
	var zero V
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := (*m)[k]
	if !ok || !c.live || time.Since(e.at) >= ConfigMaxAge {
		return zero, false
	}
	return e.v, true
}

// keep puts v, read from generation gen on, in m, unless the cache moved
// on since (or is not listening).
func keep[K comparable, V any](c *configCache, m *map[K]kept[V], gen uint64, at time.Time, k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || !c.live {
		return
	}
	if *m == nil {
		*m = map[K]kept[V]{}
	}
	(*m)[k] = kept[V]{v, at}
}

// begin is called before a read that may be kept: its generation, and
// whether it may be kept (listening; the first call starts listening).
func (c *configCache) begin() (uint64, bool) {
	if c == nil {
		return 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.started && c.dsn != "" {
		c.started = true
		ctx, cancel := context.WithCancel(context.Background())
		c.stop, c.done = cancel, make(chan struct{})
		go c.listen(ctx)
	}
	return c.gen, c.live
}

// beginTokens is begin for a token's read: tokens are kept on Postgres
// only, where every revocation notifies (on SQLite `runbook token revoke
// --db` writes from a process of its own, and a read costs a millisecond).
func (c *configCache) beginTokens() (uint64, bool) {
	if c == nil || c.dsn == "" {
		return 0, false
	}
	return c.begin()
}

// changed empties the cache.
func (c *configCache) changed() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.forgetLocked()
	c.mu.Unlock()
}

// setLive marks the listening connection up or down; either way what was
// kept may have missed a notification, and goes.
func (c *configCache) setLive(live bool) {
	c.mu.Lock()
	c.live = live
	c.forgetLocked()
	c.mu.Unlock()
}

func (c *configCache) forgetLocked() {
	c.gen++
	c.latest, c.freezes, c.tokens = nil, nil, nil
}

func (c *configCache) latestOf(name string) (RunbookVersion, bool) {
	if c == nil {
		return RunbookVersion{}, false
	}
	return lookup(c, &c.latest, name)
}

func (c *configCache) keepLatest(gen uint64, at time.Time, v RunbookVersion) {
	keep(c, &c.latest, gen, at, v.Name, v)
}

func (c *configCache) compiledFreezes() ([]*plan.Freeze, bool) {
	if c == nil {
		return nil, false
	}
	f, ok := lookup(c, &c.freezes, struct{}{})
	return slices.Clone(f), ok // the caller's slice; the freezes are only read
}

func (c *configCache) keepFreezes(gen uint64, at time.Time, f []*plan.Freeze) {
	keep(c, &c.freezes, gen, at, struct{}{}, slices.Clone(f))
}

func (c *configCache) tokenOf(hash string) (Token, bool) {
	if c == nil {
		return Token{}, false
	}
	return lookup(c, &c.tokens, hash)
}

func (c *configCache) keepToken(gen uint64, at time.Time, hash string, t Token) {
	keep(c, &c.tokens, gen, at, hash, t)
}

// listen holds the listening connection, opened again a second after it
// fails, until ctx ends.
func (c *configCache) listen(ctx context.Context) {
	defer close(c.done)
	for {
		cfg, err := pgx.ParseConfig(c.dsn)
		var conn *pgx.Conn
		if err == nil {
			cfg.RuntimeParams["application_name"] = "runbook-config-listener"
			cfg.ConnectTimeout = 5 * time.Second
			conn, err = pgx.ConnectConfig(ctx, cfg)
		}
		if err == nil {
			if _, err = conn.Exec(ctx, "LISTEN "+ConfigChannel); err == nil {
				c.setLive(true)
				for err == nil {
					if _, err = conn.WaitForNotification(ctx); err == nil {
						c.changed()
					}
				}
				c.setLive(false)
			}
			conn.Close(context.Background())
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (c *configCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	stop, done := c.stop, c.done
	c.started, c.live = true, false // a read after Close starts no listener
	c.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// notifyConfig tells the other processes, at tx's commit, that a
// runbook, the freezes or a token changed (Postgres; on SQLite one
// process writes them).
func notifyConfig(tx *gorm.DB) error {
	if tx.Dialector.Name() != "postgres" {
		return nil
	}
	return tx.Exec("SELECT pg_notify(?, '')", ConfigChannel).Error
}
