package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// AuditEntry is one state-changing call: which key made it, what it did
// (Action: method and route), to what (Targets, such as campaign:spring
// or customer:c1), in which request, when, and how it ended (Status, the
// HTTP status answered).
type AuditEntry struct {
	ID        int64     `json:"id" db:"id"`
	At        time.Time `json:"at" db:"at"`
	KeyID     string    `json:"key_id" db:"key_id"`
	Action    string    `json:"action" db:"action"`
	Targets   []string  `json:"targets" db:"targets"`
	RequestID string    `json:"request_id" db:"request_id"`
	Status    int       `json:"status" db:"status"`
}

// Audit appends an entry to the audit trail.
func (s *Store) Audit(ctx context.Context, e AuditEntry) error {
	if e.Targets == nil {
		e.Targets = []string{}
	}
	_, err := s.db.Exec(ctx, `INSERT INTO audit (key_id, action, targets, request_id, status) VALUES ($1, $2, $3, $4, $5)`,
		e.KeyID, e.Action, e.Targets, e.RequestID, e.Status)
	return err
}

// AuditQuery selects entries of the audit trail: those naming Target and
// made with KeyID, where given, older than Before (an entry's id; 0 for
// the newest).
type AuditQuery struct {
	Target string
	KeyID  string
	Before int64
	Limit  int
}

// AuditTrail lists entries, newest first.
func (s *Store) AuditTrail(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	rows, _ := s.db.Query(ctx, `
SELECT id, at, key_id, action, targets, request_id, status FROM audit
WHERE ($1::text = '' OR targets @> ARRAY[$1::text]) AND ($2::text = '' OR key_id = $2) AND ($3::bigint = 0 OR id < $3)
ORDER BY id DESC LIMIT $4`, q.Target, q.KeyID, q.Before, q.Limit)
	return pgx.CollectRows(rows, pgx.RowToStructByName[AuditEntry])
}
