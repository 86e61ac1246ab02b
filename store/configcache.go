package store

import (
	"context"
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
	latest  map[string]cachedVersion
	freezes *cachedFreezes
	tokens  map[string]cachedToken // by hash; Postgres only
}

type cachedToken struct {
	t  Token
	at time.Time
}

type cachedVersion struct {
	v  RunbookVersion
	at time.Time
}

type cachedFreezes struct {
	f  []*plan.Freeze
	at time.Time
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

// changed empties the cache.
func (c *configCache) changed() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.gen++
	c.latest, c.freezes, c.tokens = nil, nil, nil
	c.mu.Unlock()
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

func (c *configCache) tokenOf(hash string) (Token, bool) {
	if c == nil {
		return Token{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.tokens[hash]
	if !ok || !c.live || time.Since(e.at) >= ConfigMaxAge {
		return Token{}, false
	}
	return e.t, true
}

func (c *configCache) keepToken(gen uint64, at time.Time, hash string, t Token) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || !c.live {
		return
	}
	if c.tokens == nil {
		c.tokens = map[string]cachedToken{}
	}
	c.tokens[hash] = cachedToken{t, at}
}

func (c *configCache) latestOf(name string) (RunbookVersion, bool) {
	if c == nil {
		return RunbookVersion{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.latest[name]
	if !ok || !c.live || time.Since(e.at) >= ConfigMaxAge {
		return RunbookVersion{}, false
	}
	return e.v, true
}

func (c *configCache) keepLatest(gen uint64, at time.Time, v RunbookVersion) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || !c.live {
		return
	}
	if c.latest == nil {
		c.latest = map[string]cachedVersion{}
	}
	c.latest[v.Name] = cachedVersion{v, at}
}

func (c *configCache) compiledFreezes() ([]*plan.Freeze, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.freezes == nil || !c.live || time.Since(c.freezes.at) >= ConfigMaxAge {
		return nil, false
	}
	return append([]*plan.Freeze(nil), c.freezes.f...), true
}

func (c *configCache) keepFreezes(gen uint64, at time.Time, f []*plan.Freeze) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || !c.live {
		return
	}
	c.freezes = &cachedFreezes{append([]*plan.Freeze(nil), f...), at}
}

// setLive marks the listening connection up or down; either way what was
// kept may have missed a notification, and goes.
func (c *configCache) setLive(live bool) {
	c.mu.Lock()
	c.live = live
	c.gen++
	c.latest, c.freezes, c.tokens = nil, nil, nil
	c.mu.Unlock()
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

// notifyConfig tells the other processes, at tx's commit, that the
// runbooks or the freezes changed (Postgres; SQLite keeps nothing).
func notifyConfig(tx *gorm.DB) error {
	if tx.Dialector.Name() != "postgres" {
		return nil
	}
	return tx.Exec("SELECT pg_notify(?, '')", ConfigChannel).Error
}
