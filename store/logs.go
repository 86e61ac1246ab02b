package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/opsrunbook/runbook/steplog"
)

// The step log tables: lines arrive from workers in chunks (LogChunk),
// numbered in their run by LogRun, and counted per step attempt by
// LogStream, which also records what was elided past the caps.
func init() { models = append(models, logModels...) }

var logModels = []any{&LogRun{}, &LogStream{}, &LogChunk{}}

// OpenLogs opens dsn for a worker's step logs: it creates or migrates the
// log tables only, so the worker's database role needs rights on those
// alone (not on the runs, votes, tokens or the vote-signing key).
func OpenLogs(dsn string) (*Store, error) { return open(dsn, logModels, false) }

// LogRun numbers a run's lines and counts the bytes kept of them.
type LogRun struct {
	RunID     string `gorm:"primaryKey;size:1000"` // RunIDSize
	NextSeq   int64  `gorm:"not null"`             // the seq of the next line
	Bytes     int64  `gorm:"not null"`             // kept
	HeadBytes int64  `gorm:"not null"`             // of chunks in the run's head, never elided for the run's cap
}

// LogStream is one step attempt's log: what it sent, what its head holds
// and what was elided of it.
type LogStream struct {
	ID          uint   `gorm:"primaryKey"`
	RunID       string `gorm:"size:1000;not null;uniqueIndex:log_stream_key"`
	Step        string `gorm:"size:63;not null;uniqueIndex:log_stream_key"`
	Item        int    `gorm:"not null;uniqueIndex:log_stream_key"` // -1 outside loops (no default: 0 is an item)
	Attempt     int    `gorm:"not null;uniqueIndex:log_stream_key"`
	Lines       int64  `gorm:"not null"`
	Bytes       int64  `gorm:"not null"`
	HeadBytes   int64  `gorm:"not null"`
	ElidedLines int64  `gorm:"not null"`
	ElidedBytes int64  `gorm:"not null"`
}

// LogChunk is lines FirstSeq to FirstSeq+Lines-1 of a run, all of one
// step attempt, as one flush of a worker sent them. Body is JSON of the
// lines without their seq.
//
// LastSeq is FirstSeq+Lines-1, a column of its own so that a read after
// a seq searches the (run_id, last_seq) index; (run_id, step, item,
// attempt, first_seq) serves the reads of one step and its elisions.
type LogChunk struct {
	ID       uint   `gorm:"primaryKey"`
	RunID    string `gorm:"size:1000;not null;uniqueIndex:log_chunk_seq;index:log_chunk_last,priority:1;index:log_chunk_step,priority:1"`
	FirstSeq int64  `gorm:"not null;uniqueIndex:log_chunk_seq;index:log_chunk_step,priority:5"`
	LastSeq  int64  `gorm:"not null;default:0;index:log_chunk_last,priority:2"`
	Step     string `gorm:"size:63;not null;index:log_chunk_step,priority:2"`
	Item     int    `gorm:"not null;index:log_chunk_step,priority:3"`
	Attempt  int    `gorm:"not null;index:log_chunk_step,priority:4"`
	Lines    int    `gorm:"not null"`
	Bytes    int    `gorm:"not null"`
	// Head marks a chunk of its attempt's first half-cap, RunHead one of
	// the run's: neither is elided for that cap.
	Head      bool      `gorm:"not null"`
	RunHead   bool      `gorm:"not null"`
	Body      string    `gorm:"type:text;not null"`
	CreatedAt time.Time `gorm:"not null"`
}

// LogSink writes step logs into s with caps.
type LogSink struct {
	Store *Store
	Caps  steplog.Caps
}

// AppendLog implements steplog.Sink.
func (k LogSink) AppendLog(ctx context.Context, key steplog.Key, lines []steplog.Line) error {
	return k.Store.AppendLog(ctx, key, lines, k.Caps)
}

// AppendLog keeps lines of one step attempt, numbering them after the
// run's last line. Past caps.StepBytes of the attempt, or caps.RunBytes of
// the run, the oldest chunks after the head (the first half of the cap)
// are deleted and counted as elided, so the head and the latest lines
// stay (the chunk just kept always does, so there is a tail however far
// the head overshot its half).
func (s *Store) AppendLog(ctx context.Context, key steplog.Key, lines []steplog.Line, caps steplog.Caps) error {
	if len(lines) == 0 {
		return nil
	}
	caps = caps.WithDefaults()
	body := make([]chunkLine, len(lines))
	size := 0
	for i, l := range lines {
		body[i] = chunkLine{At: l.At.UTC(), Stream: l.Stream, Text: l.Text}
		size += len(l.Text)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	err = s.WithContext(ctx).transaction(func(tx *gorm.DB) error {
		lock := clause.Locking{Strength: "UPDATE"}
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&LogRun{RunID: key.RunID, NextSeq: 1}).Error; err != nil {
			return err
		}
		var run LogRun
		if err := tx.Clauses(lock).First(&run, "run_id = ?", key.RunID).Error; err != nil {
			return err
		}
		ls := LogStream{RunID: key.RunID, Step: key.Step, Item: key.Item, Attempt: key.Attempt}
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&ls).Error; err != nil {
			return err
		}
		if err := tx.Clauses(lock).Where("run_id = ? AND step = ? AND item = ? AND attempt = ?", key.RunID, key.Step, key.Item, key.Attempt).First(&ls).Error; err != nil {
			return err
		}
		c := LogChunk{RunID: key.RunID, FirstSeq: run.NextSeq, LastSeq: run.NextSeq + int64(len(lines)) - 1, Step: key.Step, Item: key.Item, Attempt: key.Attempt,
			Lines: len(lines), Bytes: size, Head: ls.HeadBytes < caps.StepBytes/2, RunHead: run.HeadBytes < caps.RunBytes/2, Body: string(b)}
		if err := tx.Create(&c).Error; err != nil {
			return err
		}
		run.NextSeq += int64(len(lines))
		run.Bytes += int64(size)
		if c.RunHead {
			run.HeadBytes += int64(size)
		}
		ls.Lines += int64(len(lines))
		ls.Bytes += int64(size)
		if c.Head {
			ls.HeadBytes += int64(size)
		}
		streams := map[streamKey]*LogStream{{key.Step, key.Item, key.Attempt}: &ls}
		if ls.Bytes-ls.ElidedBytes > caps.StepBytes {
			q := tx.Where("run_id = ? AND step = ? AND item = ? AND attempt = ? AND head = ? AND id <> ?", key.RunID, key.Step, key.Item, key.Attempt, false, c.ID)
			if err := elide(tx, q, ls.Bytes-ls.ElidedBytes-caps.StepBytes, &run, streams); err != nil {
				return err
			}
		}
		if run.Bytes > caps.RunBytes {
			q := tx.Where("run_id = ? AND run_head = ? AND id <> ?", key.RunID, false, c.ID)
			if err := elide(tx, q, run.Bytes-caps.RunBytes, &run, streams); err != nil {
				return err
			}
		}
		for _, st := range streams {
			if err := tx.Save(st).Error; err != nil {
				return err
			}
		}
		return tx.Save(&run).Error
	})
	if err != nil {
		return fmt.Errorf("store: append log of %s: %w", key, err)
	}
	return nil
}

type streamKey struct {
	step    string
	item    int
	attempt int
}

type chunkLine struct {
	At     time.Time `json:"at"`
	Stream string    `json:"s"`
	Text   string    `json:"t"`
}

// elide deletes the oldest chunks q selects until over bytes are gone,
// counting them in their streams' elisions.
func elide(tx *gorm.DB, q *gorm.DB, over int64, run *LogRun, streams map[streamKey]*LogStream) error {
	for over > 0 {
		var chunks []LogChunk
		if err := q.Session(&gorm.Session{}).Select("id, run_id, step, item, attempt, lines, bytes").Order("first_seq").Limit(64).Find(&chunks).Error; err != nil {
			return err
		}
		if len(chunks) == 0 {
			return nil
		}
		var ids []uint
		for _, c := range chunks {
			if over <= 0 {
				break
			}
			k := streamKey{c.Step, c.Item, c.Attempt}
			st := streams[k]
			if st == nil {
				st = &LogStream{}
				if err := tx.Where("run_id = ? AND step = ? AND item = ? AND attempt = ?", c.RunID, c.Step, c.Item, c.Attempt).First(st).Error; err != nil {
					return err
				}
				streams[k] = st
			}
			st.ElidedLines += int64(c.Lines)
			st.ElidedBytes += int64(c.Bytes)
			run.Bytes -= int64(c.Bytes)
			over -= int64(c.Bytes)
			ids = append(ids, c.ID)
		}
		if err := tx.Delete(&LogChunk{}, ids).Error; err != nil {
			return err
		}
	}
	return nil
}

// LogQuery selects a run's lines. Step "" is every step; Item nil is
// every item of the step.
type LogQuery struct {
	RunID string
	Step  string
	Item  *int
	Since int64 // lines with a greater seq
	Limit int   // at most this many, the first ones after Since
	Tail  int   // instead: the last this many after Since
}

// LogLine is a kept line of a step attempt.
type LogLine struct {
	steplog.Line
	Step    string
	Item    int
	Attempt int
}

// Elision says how much of a step attempt's log was elided.
type Elision struct {
	Step    string `json:"step"`
	Item    *int   `json:"item,omitempty"`
	Attempt int    `json:"attempt"`
	Lines   int64  `json:"lines"`
	Bytes   int64  `json:"bytes"`
}

// Logs returns the lines q selects in seq order, and the elisions of the
// steps it covers.
func (s *Store) Logs(ctx context.Context, q LogQuery) ([]LogLine, []Elision, error) {
	db := s.WithContext(ctx).db
	where := func() *gorm.DB {
		w := db.Model(&LogChunk{}).Where("run_id = ?", q.RunID)
		if q.Step != "" {
			w = w.Where("step = ?", q.Step)
		}
		if q.Item != nil {
			w = w.Where("item = ?", *q.Item)
		}
		return w
	}
	var out []LogLine
	if q.Tail > 0 {
		var rev []LogLine
		before := int64(-1) // chunks with last_seq below this; -1: all
		for len(rev) < q.Tail {
			var chunks []LogChunk
			w := where().Where("last_seq > ?", q.Since)
			if before >= 0 {
				w = w.Where("last_seq < ?", before)
			}
			if err := w.Order("last_seq DESC").Limit(32).Find(&chunks).Error; err != nil {
				return nil, nil, s.unavailable(err)
			}
			if len(chunks) == 0 {
				break
			}
			for _, c := range chunks {
				ls, err := c.lines(q.Since)
				if err != nil {
					return nil, nil, err
				}
				for i := len(ls) - 1; i >= 0 && len(rev) < q.Tail; i-- {
					rev = append(rev, ls[i])
				}
				before = c.FirstSeq
			}
		}
		for i := len(rev) - 1; i >= 0; i-- {
			out = append(out, rev[i])
		}
	} else {
		after := q.Since
		for len(out) < q.Limit {
			var chunks []LogChunk
			if err := where().Where("last_seq > ?", after).Order("last_seq").Limit(32).Find(&chunks).Error; err != nil {
				return nil, nil, s.unavailable(err)
			}
			if len(chunks) == 0 {
				break
			}
			for _, c := range chunks {
				ls, err := c.lines(after)
				if err != nil {
					return nil, nil, err
				}
				out = append(out, ls[:min(len(ls), q.Limit-len(out))]...)
				after = c.LastSeq
			}
		}
	}
	var streams []LogStream
	w := db.Where("run_id = ? AND elided_lines > 0", q.RunID)
	if q.Step != "" {
		w = w.Where("step = ?", q.Step)
	}
	if q.Item != nil {
		w = w.Where("item = ?", *q.Item)
	}
	if err := w.Order("step, item, attempt").Find(&streams).Error; err != nil {
		return nil, nil, s.unavailable(err)
	}
	elided := []Elision{}
	for _, st := range streams {
		e := Elision{Step: st.Step, Attempt: st.Attempt, Lines: st.ElidedLines, Bytes: st.ElidedBytes}
		if st.Item >= 0 {
			item := st.Item
			e.Item = &item
		}
		elided = append(elided, e)
	}
	return out, elided, nil
}

// lines decodes the chunk's lines after seq since.
func (c LogChunk) lines(since int64) ([]LogLine, error) {
	var body []chunkLine
	if err := json.Unmarshal([]byte(c.Body), &body); err != nil {
		return nil, fmt.Errorf("store: log chunk %d of run %s: %w", c.FirstSeq, c.RunID, err)
	}
	var out []LogLine
	for i, l := range body {
		seq := c.FirstSeq + int64(i)
		if seq <= since {
			continue
		}
		out = append(out, LogLine{Line: steplog.Line{Seq: seq, At: l.At, Stream: l.Stream, Text: l.Text}, Step: c.Step, Item: c.Item, Attempt: c.Attempt})
	}
	return out, nil
}

// HasLogs reports whether a run has sent lines (a sub-runbook's run has
// no record of its own, only lines).
func (s *Store) HasLogs(ctx context.Context, runID string) (bool, error) {
	var n int64
	err := s.WithContext(ctx).db.Model(&LogRun{}).Where("run_id = ?", runID).Count(&n).Error
	return n > 0, s.unavailable(err)
}
