package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Incident statuses: open → mitigating → resolved; a resolved incident
// whose alert fires again is open again (Reopens counts it).
const (
	IncidentOpen       = "open"
	IncidentMitigating = "mitigating"
	IncidentResolved   = "resolved"
)

// IncidentStatuses lists every status, in their order.
var IncidentStatuses = []string{IncidentOpen, IncidentMitigating, IncidentResolved}

// Where an incident was reported from.
const (
	SourceAlertmanager = "alertmanager"
	SourceWebhook      = "webhook"
	SourceAPI          = "api"
)

// Incident is a problem reported by Alertmanager, a signed webhook or an
// operator, with the runs started for it. OpenedAt is when it was first
// opened (a reopen keeps it); AckedAt the first acknowledgement (the
// first run linked to it, or a responder's ack); ResolvedAt the last
// resolution (nil while it is open).
type Incident struct {
	ID uint `gorm:"primaryKey" json:"id"`
	// KeyHash is sha256(source, key): reports with the same key are the
	// same incident.
	KeyHash    string     `gorm:"size:64;not null;uniqueIndex" json:"-"`
	Key        string     `gorm:"size:500;not null" json:"key"`
	Source     string     `gorm:"size:20;not null" json:"source"`
	Title      string     `gorm:"size:500;not null" json:"title"`
	Severity   string     `gorm:"size:63;not null;default:''" json:"severity"`
	Service    string     `gorm:"size:200;not null;default:'';index" json:"service"`
	Status     string     `gorm:"size:20;not null;index" json:"status"`
	OpenedBy   string     `gorm:"size:200;not null" json:"openedBy"`
	OpenedAt   time.Time  `gorm:"index" json:"openedAt"`
	AckedAt    *time.Time `json:"ackedAt,omitempty"`
	AckedBy    string     `gorm:"size:200;not null;default:''" json:"ackedBy,omitempty"`
	ResolvedAt *time.Time `json:"resolvedAt,omitempty"`
	ResolvedBy string     `gorm:"size:200;not null;default:''" json:"resolvedBy,omitempty"`
	Reopens    int        `gorm:"not null;default:0" json:"reopens"`
	UpdatedAt  time.Time  `json:"updatedAt"`
	// Acked says the call that returned it acknowledged it first.
	Acked bool `gorm:"-" json:"-"`
}

// TTA is the time to acknowledge: AckedAt - OpenedAt.
func (i *Incident) TTA() (time.Duration, bool) {
	if i.AckedAt == nil {
		return 0, false
	}
	return i.AckedAt.Sub(i.OpenedAt), true
}

// TTR is the time to resolve: ResolvedAt - OpenedAt.
func (i *Incident) TTR() (time.Duration, bool) {
	if i.ResolvedAt == nil {
		return 0, false
	}
	return i.ResolvedAt.Sub(i.OpenedAt), true
}

// Kinds of incident events.
const (
	EventAlert  = "alert"  // Status: firing or resolved; Text: what the alerts say
	EventStatus = "status" // Status: the new status; Text: the reason
	EventNote   = "note"   // Text: the note
	EventRun    = "run"    // Run: the run linked
)

// IncidentEvent is one entry of an incident's own timeline; the steps
// and approvals of its runs come from their records.
type IncidentEvent struct {
	ID         uint      `gorm:"primaryKey" json:"-"`
	IncidentID uint      `gorm:"not null;index" json:"-"`
	At         time.Time `json:"at"`
	Kind       string    `gorm:"size:20;not null" json:"kind"`
	Actor      string    `gorm:"size:200;not null" json:"actor"`
	Status     string    `gorm:"size:20;not null;default:''" json:"status,omitempty"`
	Text       string    `gorm:"type:text" json:"text,omitempty"`
	Run        string    `gorm:"size:1000;not null;default:''" json:"run,omitempty"`
}

// IncidentRun links a run to the incident it was started for.
type IncidentRun struct {
	ID         uint      `gorm:"primaryKey" json:"-"`
	IncidentID uint      `gorm:"not null;uniqueIndex:incident_run" json:"incident"`
	RunID      string    `gorm:"size:1000;not null;uniqueIndex:incident_run;index" json:"run"`
	LinkedBy   string    `gorm:"size:200;not null" json:"linkedBy"`
	LinkedAt   time.Time `json:"linkedAt"`
}

// Bounds of what an incident keeps.
const (
	// MaxIncidentEvents bounds an incident's own timeline: past it, alert
	// repeats are dropped (notes and status changes are refused with
	// ErrIncidentFull, so a responder knows).
	MaxIncidentEvents = 2000
	// MaxIncidentRuns bounds the runs linked to one incident.
	MaxIncidentRuns = 500
	// MaxIncidentPage bounds a page of incidents.
	MaxIncidentPage = 500
)

// ErrIncidentFull is a note or link past an incident's bounds.
var ErrIncidentFull = errors.New("the incident holds as many events as it may")

// IncidentStateError is a status change the incident's status refuses.
type IncidentStateError struct{ From, To string }

func (e *IncidentStateError) Error() string {
	if e.From == e.To {
		return "the incident is already " + e.From
	}
	return fmt.Sprintf("an incident that is %s cannot become %s", e.From, e.To)
}

// IncidentKeyHash is the key that makes reports of the same problem one
// incident: per source, so an operator's key cannot claim an alert group.
func IncidentKeyHash(source, key string) string {
	sum := sha256.Sum256([]byte(source + "\x00" + key))
	return hex.EncodeToString(sum[:])
}

// Outcomes of ReportIncident.
const (
	IncidentOpened   = "opened"
	IncidentReopened = "reopened"
	IncidentUpdated  = "updated" // it was open: the report is an event of it
)

// ReportIncident records a firing report of in (Key, Source, Title,
// Severity, Service set) by actor: a new incident is opened, a resolved one
// with the same key reopened, an open one gets the report as an event
// (alert: what its alerts say; the same text as the last alert event is
// not repeated). Opening and reopening are audited in the same
// transaction.
func (s *Store) ReportIncident(in *Incident, actor, alert string) (*Incident, string, error) {
	key := in.Key // the hash is of the whole key; the column keeps its start
	in.KeyHash = IncidentKeyHash(in.Source, key)
	in.Key = cut(in.Key, Size(Incident{}, "Key"))
	in.Title = cut(in.Title, Size(Incident{}, "Title"))
	in.Severity = cut(in.Severity, Size(Incident{}, "Severity"))
	in.Service = cut(in.Service, Size(Incident{}, "Service"))
	actor = cut(actor, Size(Incident{}, "OpenedBy"))
	var out *Incident
	outcome := ""
	attempt := func() error {
		return s.transaction(func(tx *gorm.DB) error {
			now := time.Now().UTC()
			var cur Incident
			err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("key_hash = ?", in.KeyHash).First(&cur).Error
			switch {
			case errors.Is(err, gorm.ErrRecordNotFound):
				inc := *in
				inc.ID, inc.Status, inc.OpenedBy, inc.OpenedAt = 0, IncidentOpen, actor, now
				if err := tx.Create(&inc).Error; err != nil {
					return err
				}
				out, outcome = &inc, IncidentOpened
				if err := addEvent(tx, &IncidentEvent{IncidentID: inc.ID, At: now, Kind: EventStatus, Actor: actor, Status: IncidentOpen, Text: "opened"}); err != nil {
					return err
				}
				if err := alertEvent(tx, inc.ID, now, actor, AlertFiring, alert); err != nil {
					return err
				}
				return appendAudit(tx, incidentAudit(actor, ActionIncidentOpen, &inc, IncidentDetail{Status: IncidentOpen, Source: inc.Source}))
			case err != nil:
				return err
			}
			out = &cur
			if cur.Status != IncidentResolved {
				outcome = IncidentUpdated
				return alertEvent(tx, cur.ID, now, actor, AlertFiring, alert)
			}
			outcome = IncidentReopened
			cur.Status, cur.ResolvedAt, cur.ResolvedBy, cur.Reopens = IncidentOpen, nil, "", cur.Reopens+1
			if err := saveIncident(tx, &cur, now); err != nil {
				return err
			}
			if err := addEvent(tx, &IncidentEvent{IncidentID: cur.ID, At: now, Kind: EventStatus, Actor: actor, Status: IncidentOpen, Text: "reopened: it fires again"}); err != nil {
				return err
			}
			if err := alertEvent(tx, cur.ID, now, actor, AlertFiring, alert); err != nil {
				return err
			}
			return appendAudit(tx, incidentAudit(actor, ActionIncidentReopen, &cur, IncidentDetail{Status: IncidentOpen, From: IncidentResolved, Source: cur.Source}))
		})
	}
	err := attempt()
	if err != nil {
		// Two first reports of one key at once: the loser's insert hits
		// the unique key; the second attempt finds the winner's incident.
		if _, ferr := s.IncidentByKey(in.Source, key); ferr == nil {
			err = attempt()
		}
	}
	if err != nil {
		return nil, "", fmt.Errorf("store: report incident: %w", err)
	}
	return out, outcome, nil
}

// Alert statuses as incident events record them.
const (
	AlertFiring   = "firing"
	AlertResolved = "resolved"
)

// alertEvent records an alert report unless it repeats the last one or
// the incident's timeline is full (Alertmanager repeats a group every
// repeat_interval: those add nothing).
func alertEvent(tx *gorm.DB, id uint, at time.Time, actor, status, text string) error {
	var last IncidentEvent
	err := tx.Where("incident_id = ? AND kind = ?", id, EventAlert).Order("id DESC").Limit(1).Find(&last).Error
	if err != nil {
		return err
	}
	if last.ID != 0 && last.Status == status && last.Text == text {
		return nil
	}
	var n int64
	if err := tx.Model(&IncidentEvent{}).Where("incident_id = ?", id).Count(&n).Error; err != nil {
		return err
	}
	if n >= MaxIncidentEvents {
		return nil
	}
	return addEvent(tx, &IncidentEvent{IncidentID: id, At: at, Kind: EventAlert, Actor: actor, Status: status, Text: text})
}

func addEvent(tx *gorm.DB, e *IncidentEvent) error {
	e.Actor = cut(e.Actor, Size(IncidentEvent{}, "Actor"))
	return tx.Create(e).Error
}

// ResolveAlert records a resolved report of the incident with source's
// key, by actor: a live incident is resolved (audited), a resolved one
// gets the event. ErrNotFound: no incident has the key.
func (s *Store) ResolveAlert(source, key, actor, alert string) (*Incident, bool, error) {
	inc, err := s.IncidentByKey(source, key)
	if err != nil {
		return nil, false, err
	}
	if inc.Status == IncidentResolved {
		err := s.transaction(func(tx *gorm.DB) error {
			return alertEvent(tx, inc.ID, time.Now().UTC(), actor, AlertResolved, alert)
		})
		return inc, false, err
	}
	inc, err = s.changeIncident(inc.ID, IncidentResolved, actor, "resolved by "+source, func(tx *gorm.DB, at time.Time) error {
		return alertEvent(tx, inc.ID, at, actor, AlertResolved, alert)
	})
	var se *IncidentStateError
	if errors.As(err, &se) { // resolved since it was read
		return inc, false, nil
	}
	return inc, err == nil, err
}

// SetIncidentStatus changes an incident's status as actor, with a reason:
// open → mitigating (an ack), open or mitigating → resolved, resolved →
// open (a reopen). Another change is an *IncidentStateError. Audited.
func (s *Store) SetIncidentStatus(id uint, status, actor, reason string) (*Incident, error) {
	return s.changeIncident(id, status, actor, reason, nil)
}

func (s *Store) changeIncident(id uint, status, actor, reason string, also func(tx *gorm.DB, at time.Time) error) (*Incident, error) {
	var out Incident
	err := s.transaction(func(tx *gorm.DB) error {
		if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).First(&out, id).Error; err != nil {
			return notFound(err)
		}
		from := out.Status
		if !incidentMoves(from, status) {
			return &IncidentStateError{From: from, To: status}
		}
		if err := full(tx, id); err != nil {
			return err
		}
		now := time.Now().UTC()
		action := map[string]string{IncidentMitigating: ActionIncidentAck, IncidentResolved: ActionIncidentResolve, IncidentOpen: ActionIncidentReopen}[status]
		out.Status = status
		switch status {
		case IncidentMitigating:
			if out.AckedAt == nil {
				out.AckedAt, out.AckedBy, out.Acked = &now, cut(actor, Size(Incident{}, "AckedBy")), true
			}
		case IncidentResolved:
			out.ResolvedAt, out.ResolvedBy = &now, cut(actor, Size(Incident{}, "ResolvedBy"))
		case IncidentOpen:
			out.ResolvedAt, out.ResolvedBy, out.Reopens = nil, "", out.Reopens+1
		}
		if err := saveIncident(tx, &out, now); err != nil {
			return err
		}
		if also != nil {
			if err := also(tx, now); err != nil {
				return err
			}
		}
		if err := addEvent(tx, &IncidentEvent{IncidentID: id, At: now, Kind: EventStatus, Actor: actor, Status: status, Text: reason}); err != nil {
			return err
		}
		return appendAudit(tx, incidentAudit(actor, action, &out, IncidentDetail{Status: status, From: from, Reason: reason}))
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// saveIncident writes the fields a status change changes (a map: GORM
// leaves a struct's nil ResolvedAt out of an update).
func saveIncident(tx *gorm.DB, inc *Incident, now time.Time) error {
	inc.UpdatedAt = now
	return tx.Model(&Incident{}).Where("id = ?", inc.ID).Updates(map[string]any{"status": inc.Status, "acked_at": inc.AckedAt,
		"acked_by": inc.AckedBy, "resolved_at": inc.ResolvedAt, "resolved_by": inc.ResolvedBy, "reopens": inc.Reopens, "updated_at": now}).Error
}

// incidentMoves says whether an incident may go from one status to another.
func incidentMoves(from, to string) bool {
	switch to {
	case IncidentMitigating:
		return from == IncidentOpen
	case IncidentResolved:
		return from == IncidentOpen || from == IncidentMitigating
	case IncidentOpen:
		return from == IncidentResolved
	}
	return false
}

// full refuses an event past MaxIncidentEvents.
func full(tx *gorm.DB, id uint) error {
	var n int64
	if err := tx.Model(&IncidentEvent{}).Where("incident_id = ?", id).Count(&n).Error; err != nil {
		return err
	}
	if n >= MaxIncidentEvents {
		return ErrIncidentFull
	}
	return nil
}

// AddIncidentNote adds a responder's note, audited.
func (s *Store) AddIncidentNote(id uint, actor, text string) (*IncidentEvent, error) {
	e := &IncidentEvent{IncidentID: id, At: time.Now().UTC(), Kind: EventNote, Actor: actor, Text: text}
	err := s.transaction(func(tx *gorm.DB) error {
		var inc Incident
		if err := tx.First(&inc, id).Error; err != nil {
			return notFound(err)
		}
		if err := full(tx, id); err != nil {
			return err
		}
		if err := addEvent(tx, e); err != nil {
			return err
		}
		return appendAudit(tx, incidentAudit(actor, ActionIncidentNote, &inc, IncidentDetail{Size: len(text)}))
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// LinkRun links a run to an incident as actor (audited), once: linking it
// again changes nothing (false). The first run linked to an open incident
// acknowledges it: it becomes mitigating, AckedAt the link's time.
func (s *Store) LinkRun(id uint, run, actor string) (*Incident, bool, error) {
	var out Incident
	linked := false
	err := s.transaction(func(tx *gorm.DB) error {
		if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).First(&out, id).Error; err != nil {
			return notFound(err)
		}
		var n int64
		if err := tx.Model(&IncidentRun{}).Where("incident_id = ? AND run_id = ?", id, run).Count(&n).Error; err != nil || n > 0 {
			return err
		}
		if err := tx.Model(&IncidentRun{}).Where("incident_id = ?", id).Count(&n).Error; err != nil {
			return err
		}
		if n >= MaxIncidentRuns {
			return ErrIncidentFull
		}
		now := time.Now().UTC()
		actor := cut(actor, Size(IncidentRun{}, "LinkedBy"))
		if err := tx.Create(&IncidentRun{IncidentID: id, RunID: run, LinkedBy: actor, LinkedAt: now}).Error; err != nil {
			return err
		}
		linked = true
		if err := addEvent(tx, &IncidentEvent{IncidentID: id, At: now, Kind: EventRun, Actor: actor, Run: run}); err != nil {
			return err
		}
		detail := IncidentDetail{Run: run}
		if out.Status == IncidentOpen {
			from := out.Status
			out.Status = IncidentMitigating
			if out.AckedAt == nil {
				out.AckedAt, out.AckedBy, out.Acked = &now, actor, true
			}
			if err := saveIncident(tx, &out, now); err != nil {
				return err
			}
			if err := addEvent(tx, &IncidentEvent{IncidentID: id, At: now, Kind: EventStatus, Actor: actor, Status: IncidentMitigating, Text: "run " + run + " started for it"}); err != nil {
				return err
			}
			detail.Status, detail.From = IncidentMitigating, from
		}
		entry := incidentAudit(actor, ActionIncidentLink, &out, detail)
		entry.Run = run
		return appendAudit(tx, entry)
	})
	if err != nil {
		return nil, false, err
	}
	return &out, linked, nil
}

func incidentAudit(actor, action string, inc *Incident, d IncidentDetail) AuditRecord {
	d.Incident = inc.ID
	return AuditRecord{Actor: actor, Action: action, Target: IncidentTarget(inc.ID), Detail: d}
}

// IncidentTarget is an incident's audit target.
func IncidentTarget(id uint) string { return "incident/" + strconv.FormatUint(uint64(id), 10) }

// Incident returns an incident.
func (s *Store) Incident(id uint) (*Incident, error) {
	var inc Incident
	if err := s.db.First(&inc, id).Error; err != nil {
		return nil, notFound(err)
	}
	return &inc, nil
}

// IncidentByKey returns the incident a source's key names.
func (s *Store) IncidentByKey(source, key string) (*Incident, error) {
	var inc Incident
	if err := s.db.Where("key_hash = ?", IncidentKeyHash(source, key)).First(&inc).Error; err != nil {
		return nil, notFound(err)
	}
	return &inc, nil
}

// IncidentRuns lists the runs linked to an incident, oldest first.
func (s *Store) IncidentRuns(id uint) ([]IncidentRun, error) {
	var out []IncidentRun
	err := s.db.Where("incident_id = ?", id).Order("id").Limit(MaxIncidentRuns).Find(&out).Error
	return out, err
}

// IncidentsOfRun lists the incidents a run is linked to.
func (s *Store) IncidentsOfRun(run string) ([]uint, error) {
	var out []uint
	err := s.db.Model(&IncidentRun{}).Where("run_id = ?", run).Order("incident_id").Pluck("incident_id", &out).Error
	return out, err
}

// IncidentEvents lists an incident's own events, oldest first.
func (s *Store) IncidentEvents(id uint) ([]IncidentEvent, error) {
	var out []IncidentEvent
	err := s.db.Where("incident_id = ?", id).Order("id").Limit(MaxIncidentEvents).Find(&out).Error
	return out, err
}

// IncidentFilter selects incidents; zero fields select all. Before is the
// id of the previous page's last incident.
type IncidentFilter struct {
	Status, Service, Severity string
	Since, Until              time.Time // opened at or after, before
	Before                    uint
	Limit                     int
}

// Incidents lists incidents newest first, a page at a time: it says
// whether more follow.
func (s *Store) Incidents(f IncidentFilter) ([]Incident, bool, error) {
	if f.Limit <= 0 || f.Limit > MaxIncidentPage {
		f.Limit = 50
	}
	q := s.incidentQuery(f)
	if f.Before > 0 {
		q = q.Where("id < ?", f.Before)
	}
	var out []Incident
	if err := q.Order("id DESC").Limit(f.Limit + 1).Find(&out).Error; err != nil {
		return nil, false, err
	}
	if len(out) > f.Limit {
		return out[:f.Limit], true, nil
	}
	return out, false, nil
}

func (s *Store) incidentQuery(f IncidentFilter) *gorm.DB {
	q := s.db.Model(&Incident{})
	for _, c := range []struct{ col, v string }{{"status", f.Status}, {"service", f.Service}, {"severity", f.Severity}} {
		if c.v != "" {
			q = q.Where(map[string]any{c.col: c.v})
		}
	}
	if !f.Since.IsZero() {
		q = q.Where("opened_at >= ?", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		q = q.Where("opened_at < ?", f.Until.UTC())
	}
	return q
}

// MaxStatsIncidents bounds the incidents one stats answer reads.
const MaxStatsIncidents = 10000

// IncidentStatsRows returns the incidents f selects, newest first, at most
// MaxStatsIncidents: it says whether more were left out.
func (s *Store) IncidentStatsRows(f IncidentFilter) ([]Incident, bool, error) {
	var out []Incident
	err := s.incidentQuery(f).Select("id", "service", "severity", "status", "opened_at", "acked_at", "resolved_at").
		Order("id DESC").Limit(MaxStatsIncidents + 1).Find(&out).Error
	if err != nil {
		return nil, false, err
	}
	if len(out) > MaxStatsIncidents {
		return out[:MaxStatsIncidents], true, nil
	}
	return out, false, nil
}

// ValidIncidentStatus says whether s is an incident status.
func ValidIncidentStatus(s string) bool { return slices.Contains(IncidentStatuses, s) }
