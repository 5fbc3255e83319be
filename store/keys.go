package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// APIKey is a stored API key: everything but its secret, of which only
// a hash is kept.
type APIKey struct {
	ID         string     `json:"id" db:"id"`
	Name       string     `json:"name" db:"name"`
	SecretHash []byte     `json:"-" db:"secret_hash"`
	Scopes     []string   `json:"scopes" db:"scopes"`
	CreatedAt  time.Time  `json:"created_at" db:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty" db:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty" db:"revoked_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty" db:"last_used_at"`
}

const keyColumns = `id, name, secret_hash, scopes, created_at, expires_at, revoked_at, last_used_at`

// CreateKey stores a new key.
func (s *Store) CreateKey(ctx context.Context, k APIKey) (APIKey, error) {
	rows, _ := s.db.Query(ctx, `INSERT INTO api_keys (id, name, secret_hash, scopes, expires_at)
VALUES ($1, $2, $3, $4, $5) RETURNING `+keyColumns, k.ID, k.Name, k.SecretHash, k.Scopes, k.ExpiresAt)
	return collectOne(rows, pgx.RowToStructByName[APIKey])
}

// Key returns one key, or ErrNotFound.
func (s *Store) Key(ctx context.Context, id string) (APIKey, error) {
	rows, _ := s.db.Query(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = $1`, id)
	return collectOne(rows, pgx.RowToStructByName[APIKey])
}

// Keys lists every key, revoked ones too, newest first.
func (s *Store) Keys(ctx context.Context) ([]APIKey, error) {
	rows, _ := s.db.Query(ctx, `SELECT `+keyColumns+` FROM api_keys ORDER BY created_at DESC, id`)
	return pgx.CollectRows(rows, pgx.RowToStructByName[APIKey])
}

// RevokeKey revokes a key for good (once: revoking it again keeps the
// first time), or answers ErrNotFound.
func (s *Store) RevokeKey(ctx context.Context, id string) (APIKey, error) {
	rows, _ := s.db.Query(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING `+keyColumns, id)
	return collectOne(rows, pgx.RowToStructByName[APIKey])
}

// KeyUsed records when a key was last used.
func (s *Store) KeyUsed(ctx context.Context, id string, at time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE api_keys SET last_used_at = greatest(last_used_at, $2) WHERE id = $1`, id, at)
	return err
}
