package store

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omni-orchestrator/omni/campaign"
)

// Consent is a customer's marketing permission per channel.
type Consent struct {
	Email bool `json:"email"`
	SMS   bool `json:"sms"`
	Push  bool `json:"push"`
}

// Customer is a stored customer profile.
type Customer struct {
	ID               string         `json:"id" db:"id"`
	Email            string         `json:"email,omitempty" db:"email"`
	Phone            string         `json:"phone,omitempty" db:"phone"`
	PushToken        string         `json:"push_token,omitempty" db:"push_token"`
	Timezone         string         `json:"timezone,omitempty" db:"timezone"`
	Locale           string         `json:"locale,omitempty" db:"locale"`
	PreferredChannel string         `json:"preferred_channel,omitempty" db:"preferred_channel"`
	Consent          Consent        `json:"consent" db:"-"`
	Attributes       map[string]any `json:"attributes" db:"attributes"`
	CreatedAt        time.Time      `json:"created_at" db:"created_at"`
	UpdatedAt        time.Time      `json:"updated_at" db:"updated_at"`
}

// Address is where the customer gets messages on channel ("" if nowhere).
func (c Customer) Address(channel string) string {
	switch channel {
	case campaign.Email:
		return c.Email
	case campaign.SMS:
		return c.Phone
	case campaign.Push:
		return c.PushToken
	}
	return ""
}

// Consents reports the customer's marketing permission on channel.
func (c Customer) Consents(channel string) bool {
	switch channel {
	case campaign.Email:
		return c.Consent.Email
	case campaign.SMS:
		return c.Consent.SMS
	case campaign.Push:
		return c.Consent.Push
	}
	return false
}

// Facts are what conditions (a branch's, a launch filter's) see of the
// customer.
func (c Customer) Facts() campaign.Facts {
	f := campaign.Facts{Attributes: c.Attributes, Reachable: map[string]bool{}, Consent: map[string]bool{}}
	for _, ch := range campaign.Channels {
		f.Reachable[ch] = c.Address(ch) != ""
		f.Consent[ch] = c.Consents(ch)
	}
	return f
}

// CustomerPatch is an upsert: fields left nil keep their stored value, an
// empty string clears one, attributes merge key by key, and consent that was
// never given defaults to true (subscribed), as in Braze and Customer.io.
type CustomerPatch struct {
	ID               string         `json:"id"`
	Email            *string        `json:"email,omitempty"`
	Phone            *string        `json:"phone,omitempty"`
	PushToken        *string        `json:"push_token,omitempty"`
	Timezone         *string        `json:"timezone,omitempty"`
	Locale           *string        `json:"locale,omitempty"`
	PreferredChannel *string        `json:"preferred_channel,omitempty"`
	Consent          *ConsentPatch  `json:"consent,omitempty"`
	Attributes       map[string]any `json:"attributes,omitempty"`
}

// ConsentPatch sets the channels it names.
type ConsentPatch struct {
	Email *bool `json:"email,omitempty"`
	SMS   *bool `json:"sms,omitempty"`
	Push  *bool `json:"push,omitempty"`
}

const customerColumns = `id, coalesce(email, '') AS email, coalesce(phone, '') AS phone,
	coalesce(push_token, '') AS push_token, coalesce(timezone, '') AS timezone,
	coalesce(locale, '') AS locale, coalesce(preferred_channel, '') AS preferred_channel,
	consent_email, consent_sms, consent_push, attributes, created_at, updated_at`

func scanCustomer(row pgx.Row) (Customer, error) {
	var c Customer
	err := row.Scan(&c.ID, &c.Email, &c.Phone, &c.PushToken, &c.Timezone, &c.Locale, &c.PreferredChannel,
		&c.Consent.Email, &c.Consent.SMS, &c.Consent.Push, &c.Attributes, &c.CreatedAt, &c.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, ErrNotFound
	}
	return c, err
}

// UpsertCustomers applies the patches in one transaction: all or nothing.
func (s *Store) UpsertCustomers(ctx context.Context, patches []CustomerPatch) ([]Customer, error) {
	out := make([]Customer, 0, len(patches))
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		out = out[:0]
		for _, p := range patches {
			var consent ConsentPatch
			if p.Consent != nil {
				consent = *p.Consent
			}
			c, err := scanCustomer(tx.QueryRow(ctx, `
INSERT INTO customers AS c (id, email, phone, push_token, timezone, locale, preferred_channel,
	consent_email, consent_sms, consent_push, attributes)
VALUES ($1, nullif($2, ''), nullif($3, ''), nullif($4, ''), nullif($5, ''), nullif($6, ''), nullif($7, ''),
	coalesce($8, true), coalesce($9, true), coalesce($10, true), coalesce($11::jsonb, '{}'))
ON CONFLICT (id) DO UPDATE SET
	email = CASE WHEN $2::text IS NULL THEN c.email ELSE nullif($2, '') END,
	phone = CASE WHEN $3::text IS NULL THEN c.phone ELSE nullif($3, '') END,
	push_token = CASE WHEN $4::text IS NULL THEN c.push_token ELSE nullif($4, '') END,
	timezone = CASE WHEN $5::text IS NULL THEN c.timezone ELSE nullif($5, '') END,
	locale = CASE WHEN $6::text IS NULL THEN c.locale ELSE nullif($6, '') END,
	preferred_channel = CASE WHEN $7::text IS NULL THEN c.preferred_channel ELSE nullif($7, '') END,
	consent_email = coalesce($8, c.consent_email),
	consent_sms = coalesce($9, c.consent_sms),
	consent_push = coalesce($10, c.consent_push),
	attributes = c.attributes || coalesce($11::jsonb, '{}'),
	updated_at = now()
RETURNING `+customerColumns,
				p.ID, p.Email, p.Phone, p.PushToken, p.Timezone, p.Locale, p.PreferredChannel,
				consent.Email, consent.SMS, consent.Push, p.Attributes))
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		return nil
	})
	return out, err
}

// Customer returns one customer, or ErrNotFound.
func (s *Store) Customer(ctx context.Context, id string) (Customer, error) {
	return scanCustomer(s.db.QueryRow(ctx, `SELECT `+customerColumns+` FROM customers WHERE id = $1`, id))
}

// CustomerRef is what enrolment needs of a customer.
type CustomerRef struct {
	ID       string
	Timezone string
}

// CustomersAfter pages through all customers in id order, after the given id.
func (s *Store) CustomersAfter(ctx context.Context, after string, limit int) ([]Customer, error) {
	rows, _ := s.db.Query(ctx, `SELECT `+customerColumns+` FROM customers WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Customer, error) { return scanCustomer(r) })
}

// CustomersIn returns the customers of ids that exist, in id order.
func (s *Store) CustomersIn(ctx context.Context, ids []string) ([]Customer, error) {
	rows, _ := s.db.Query(ctx, `SELECT `+customerColumns+` FROM customers WHERE id = ANY($1) ORDER BY id`, ids)
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Customer, error) { return scanCustomer(r) })
}

// CustomerIDsByPhone lists the customers with this phone number.
func (s *Store) CustomerIDsByPhone(ctx context.Context, phone string) ([]string, error) {
	rows, _ := s.db.Query(ctx, `SELECT id FROM customers WHERE phone = $1 ORDER BY id`, phone)
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// RemovePushToken forgets a push token the provider says is gone, unless
// the customer has a new one by now.
func (s *Store) RemovePushToken(ctx context.Context, customerID, token string) error {
	_, err := s.db.Exec(ctx, `UPDATE customers SET push_token = NULL, updated_at = now() WHERE id = $1 AND push_token = $2`, customerID, token)
	return err
}

// SetConsent turns the customer's consent on or off for channels.
func (s *Store) SetConsent(ctx context.Context, customerID string, channels []string, on bool) error {
	return s.inTx(ctx, func(tx pgx.Tx) error { return setConsent(ctx, tx, customerID, channels, on) })
}

// Address is one way to reach a customer: a channel's address (an email
// address, a phone number, a device's push token), whether the customer
// consents to marketing there, and the last message sent there.
type Address struct {
	Channel string `json:"channel"`
	Address string `json:"address,omitempty"`
	Consent bool   `json:"consent"`
	// LastStatus is the status of the last message on this channel
	// (sent, skipped, failed, pending), at LastAt.
	LastStatus string     `json:"last_status,omitempty"`
	LastAt     *time.Time `json:"last_at,omitempty"`
}

// CustomerAddresses lists the customer's address on every channel, with
// the last message there.
func (s *Store) CustomerAddresses(ctx context.Context, c Customer) ([]Address, error) {
	out := make([]Address, len(campaign.Channels))
	for i, ch := range campaign.Channels {
		out[i] = Address{Channel: ch, Address: c.Address(ch), Consent: c.Consents(ch)}
	}
	rows, _ := s.db.Query(ctx, `
SELECT ch, m.status, m.at FROM unnest($2::text[]) ch
JOIN LATERAL (SELECT status, coalesce(sent_at, created_at) AS at FROM messages
	WHERE customer_id = $1 AND channel = ch ORDER BY created_at DESC LIMIT 1) m ON true`, c.ID, campaign.Channels)
	var ch, status string
	var at time.Time
	_, err := pgx.ForEachRow(rows, []any{&ch, &status, &at}, func() error {
		i := slices.Index(campaign.Channels, ch)
		last := at
		out[i].LastStatus, out[i].LastAt = status, &last
		return nil
	})
	return out, err
}
