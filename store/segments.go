package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omni-orchestrator/omni/campaign"
)

// Segment is a stored segment definition.
type Segment struct {
	ID         string           `json:"id"`
	Name       string           `json:"name"`
	Definition campaign.Segment `json:"definition"`
	CreatedAt  time.Time        `json:"created_at"`
	UpdatedAt  time.Time        `json:"updated_at"`
}

const segmentColumns = `id, name, definition, created_at, updated_at`

func scanSegment(row pgx.Row) (Segment, error) {
	var s Segment
	var def []byte
	err := row.Scan(&s.ID, &s.Name, &def, &s.CreatedAt, &s.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, ErrNotFound
	}
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(def, &s.Definition)
}

// Transition is a customer entering (Entered) or leaving a segment that a
// campaign is triggered by, as recorded with the change.
type Transition struct {
	ID         int64     `json:"id"`
	SegmentID  string    `json:"segment_id"`
	CustomerID string    `json:"customer_id"`
	Entered    bool      `json:"entered"`
	At         time.Time `json:"at"`
}

// segmentsLock is the advisory lock that defining a segment takes alone
// and re-evaluating membership shares: a re-evaluation sees one definition
// of each segment, never the one a concurrent redefinition replaced.
const segmentsLock = `hashtext('segments')`

// DefineSegment stores def, as a new segment or replacing the one with its
// id, and computes its membership afresh from the stored customers and
// events in one statement. Customers it finds in (or out of) the segment
// trigger nothing: triggers fire on changes from then on, and a launch to
// the segment reaches its members.
func (s *Store) DefineSegment(ctx context.Context, def *campaign.Segment) (seg Segment, created bool, err error) {
	doc, err := json.Marshal(def)
	if err != nil {
		return Segment{}, false, err
	}
	events, fields := def.Where.SegmentInputs()
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(`+segmentsLock+`)`); err != nil {
			return err
		}
		var existed bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM segments WHERE id = $1)`, def.ID).Scan(&existed); err != nil {
			return err
		}
		created = !existed
		seg, err = scanSegment(tx.QueryRow(ctx, `
INSERT INTO segments (id, name, definition, events, fields) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (id) DO UPDATE SET name = excluded.name, definition = excluded.definition,
	events = excluded.events, fields = excluded.fields, updated_at = now()
RETURNING `+segmentColumns, def.ID, cmp.Or(def.Name, def.ID), doc, nonNil(events), nonNil(fields)))
		if err != nil {
			return err
		}
		// A replaced segment's members who stay in keep their since.
		if _, err := tx.Exec(ctx, `CREATE TEMPORARY TABLE replaced ON COMMIT DROP AS
SELECT customer_id, since FROM segment_members WHERE segment_id = $1 AND member`, def.ID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM segment_members WHERE segment_id = $1`, def.ID); err != nil {
			return err
		}
		var q sqlArgs
		id := q.arg(def.ID)
		_, err = tx.Exec(ctx, `INSERT INTO segment_members (segment_id, customer_id, member, since, expires_at)
SELECT e.segment_id, e.customer_id, e.member, CASE WHEN e.member THEN coalesce(r.since, now()) ELSE now() END, e.expires_at
FROM (`+evaluation(&q, id, def.Where, "")+`) e LEFT JOIN replaced r USING (customer_id)
WHERE e.member OR e.expires_at IS NOT NULL`, q...)
		return err
	})
	return seg, created, err
}

// Segment returns one segment, or ErrNotFound.
func (s *Store) Segment(ctx context.Context, id string) (Segment, error) {
	return scanSegment(s.db.QueryRow(ctx, `SELECT `+segmentColumns+` FROM segments WHERE id = $1`, id))
}

// SegmentExists reports whether a segment of that id is defined.
func (s *Store) SegmentExists(ctx context.Context, id string) (bool, error) {
	var ok bool
	err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM segments WHERE id = $1)`, id).Scan(&ok)
	return ok, err
}

// SegmentSize counts a segment's members.
func (s *Store) SegmentSize(ctx context.Context, id string) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM segment_members WHERE segment_id = $1 AND member`, id).Scan(&n)
	return n, err
}

// SegmentMember is a customer in a segment, since when.
type SegmentMember struct {
	CustomerID string    `json:"customer_id" db:"customer_id"`
	Since      time.Time `json:"since" db:"since"`
}

// SegmentMembers pages through a segment's members in customer id order,
// after the given id.
func (s *Store) SegmentMembers(ctx context.Context, id, after string, limit int) ([]SegmentMember, error) {
	rows, _ := s.db.Query(ctx, `SELECT customer_id, since FROM segment_members
WHERE segment_id = $1 AND member AND customer_id > $2 ORDER BY customer_id LIMIT $3`, id, after, limit)
	return pgx.CollectRows(rows, pgx.RowToStructByName[SegmentMember])
}

// CustomerSegment is a segment a customer is in.
type CustomerSegment struct {
	SegmentID string    `json:"segment_id" db:"segment_id"`
	Name      string    `json:"name" db:"name"`
	Since     time.Time `json:"since" db:"since"`
}

// CustomerSegments lists the segments the customer is in.
func (s *Store) CustomerSegments(ctx context.Context, customerID string) ([]CustomerSegment, error) {
	rows, _ := s.db.Query(ctx, `SELECT m.segment_id, s.name, m.since FROM segment_members m JOIN segments s ON s.id = m.segment_id
WHERE m.customer_id = $1 AND m.member ORDER BY m.segment_id`, customerID)
	return pgx.CollectRows(rows, pgx.RowToStructByName[CustomerSegment])
}

// SegmentCustomersAfter pages through a segment's members' profiles in id
// order, after the given id: a launch's audience.
func (s *Store) SegmentCustomersAfter(ctx context.Context, segmentID, after string, limit int) ([]Customer, error) {
	rows, _ := s.db.Query(ctx, `SELECT `+customerColumns+` FROM customers WHERE id IN (
	SELECT customer_id FROM segment_members WHERE segment_id = $1 AND member AND customer_id > $2 ORDER BY customer_id LIMIT $3)
ORDER BY id`, segmentID, after, limit)
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Customer, error) { return scanCustomer(r) })
}

// Affects names what changed of some customers: the events they performed
// (Events), the fields of their profiles that changed (Fields, as
// campaign.Condition.SegmentInputs names them), or everything (All: a new
// customer); Segments names segments to re-evaluate whatever changed.
type Affects struct {
	Events   []string
	Fields   []string
	All      bool
	Segments []string
}

// SegmentFields names the fields of a profile the patch changes, as
// campaign.Condition.SegmentInputs names them.
func (p CustomerPatch) SegmentFields() []string {
	var out []string
	for _, f := range []struct {
		name string
		set  bool
	}{{"email", p.Email != nil}, {"phone", p.Phone != nil}, {"push_token", p.PushToken != nil}} {
		if f.set {
			out = append(out, f.name)
		}
	}
	if c := p.Consent; c != nil {
		for _, f := range []struct {
			channel string
			set     bool
		}{{campaign.Email, c.Email != nil}, {campaign.SMS, c.SMS != nil}, {campaign.Push, c.Push != nil}} {
			if f.set {
				out = append(out, "consent."+f.channel)
			}
		}
	}
	for k := range p.Attributes {
		out = append(out, "attributes."+k)
	}
	return out
}

// RefreshSegments re-evaluates the customers' membership in the segments
// that what changed can affect, in one statement, and records each entry
// into or exit from a segment a campaign is triggered by (returned, to be
// dispatched). Re-evaluating is idempotent: a call repeated (an event
// posted again) changes nothing more.
func (s *Store) RefreshSegments(ctx context.Context, customerIDs []string, a Affects) ([]Transition, error) {
	if len(customerIDs) == 0 {
		return nil, nil
	}
	ids := slices.Compact(slices.Sorted(slices.Values(customerIDs)))
	affected := `SELECT ` + segmentColumns + ` FROM segments WHERE $1 OR events && $2 OR fields && $3 OR id = ANY($4) ORDER BY id`
	args := []any{a.All, nonNil(a.Events), nonNil(a.Fields), nonNil(a.Segments)}
	// Most events (page views) concern no segment: one query says so.
	var some bool
	if err := s.db.QueryRow(ctx, `SELECT EXISTS (`+affected+`)`, args...).Scan(&some); err != nil || !some {
		return nil, err
	}
	// Two round trips, pipelined on one connection: the transaction
	// begins, takes its locks and reads the definitions once they are
	// held; then the re-evaluation and the commit. Customers are
	// re-evaluated one transaction at a time, so that two changes of one
	// customer at once record one transition.
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	begin := &pgx.Batch{}
	begin.Queue(`BEGIN`)
	begin.Queue(`SELECT pg_advisory_xact_lock_shared(` + segmentsLock + `)`)
	begin.Queue(`SELECT pg_advisory_xact_lock(k) FROM (
	SELECT DISTINCT hashtext('segment-customer:' || id) AS k FROM unnest($1::text[]) id ORDER BY k) l`, ids)
	var segs []Segment
	begin.Queue(affected, args...).Query(func(rows pgx.Rows) error {
		var err error
		segs, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Segment, error) { return scanSegment(r) })
		return err
	})
	var out []Transition
	finish := &pgx.Batch{}
	if err = conn.SendBatch(ctx, begin).Close(); err == nil {
		if len(segs) > 0 {
			sql, q := refreshStatement(segs, ids)
			finish.Queue(sql, q...).Query(func(rows pgx.Rows) error {
				var err error
				out, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Transition])
				return err
			})
		}
		finish.Queue(`COMMIT`)
		err = conn.SendBatch(ctx, finish).Close()
	}
	if err != nil {
		if _, rerr := conn.Exec(context.WithoutCancel(ctx), `ROLLBACK`); rerr != nil {
			_ = conn.Conn().Close(context.WithoutCancel(ctx)) // the pool drops it
		}
		return nil, err
	}
	return out, nil
}

// refreshStatement re-evaluates the customers in the segments, records
// each membership changed, and returns the transitions of segments that
// campaigns are triggered by.
func refreshStatement(segs []Segment, ids []string) (string, sqlArgs) {
	q := sqlArgs{ids}
	branches := make([]string, len(segs))
	for i, seg := range segs {
		branches[i] = evaluation(&q, q.arg(seg.ID), seg.Definition.Where, "c.id = ANY($1)")
	}
	return `
WITH eval AS (` + strings.Join(branches, "\nUNION ALL\n") + `),
old AS (
	SELECT m.segment_id, m.customer_id, m.member FROM segment_members m JOIN eval e USING (segment_id, customer_id)),
kept AS (
	INSERT INTO segment_members AS m (segment_id, customer_id, member, expires_at)
	SELECT segment_id, customer_id, member, expires_at FROM eval WHERE member OR expires_at IS NOT NULL
	ON CONFLICT (segment_id, customer_id) DO UPDATE SET member = excluded.member, expires_at = excluded.expires_at,
		since = CASE WHEN m.member = excluded.member THEN m.since ELSE now() END
	-- Written only when the membership changes, or time could change it
	-- sooner than recorded, or the recorded time has come: expires_at may
	-- be earlier than the truth (the runner then re-evaluates once, off the
	-- request path), never later, so that an event that changes nobody's
	-- membership (another order within the window) writes nothing.
	WHERE m.member <> excluded.member OR m.expires_at <= now()
		OR excluded.expires_at < m.expires_at OR m.expires_at IS NULL AND excluded.expires_at IS NOT NULL),
dropped AS (
	DELETE FROM segment_members m USING eval e
	WHERE m.segment_id = e.segment_id AND m.customer_id = e.customer_id AND NOT e.member AND e.expires_at IS NULL)
INSERT INTO segment_transitions (segment_id, customer_id, entered)
SELECT e.segment_id, e.customer_id, e.member FROM eval e LEFT JOIN old o USING (segment_id, customer_id)
WHERE e.member <> coalesce(o.member, false)
	AND e.segment_id IN (SELECT trigger_segment FROM campaigns WHERE trigger_segment IS NOT NULL)
RETURNING id, segment_id, customer_id, entered, at`, q
}

// RefreshDueSegments re-evaluates up to limit standings whose time has
// come (a window ended: someone who performed an event within 7 days
// leaves 7 days after their last one), and reports how many it took.
func (s *Store) RefreshDueSegments(ctx context.Context, limit int) ([]Transition, int, error) {
	rows, _ := s.db.Query(ctx, `SELECT segment_id, customer_id FROM segment_members
WHERE expires_at <= now() ORDER BY expires_at LIMIT $1`, limit)
	var segment, customer string
	var segments, customers []string
	tag, err := pgx.ForEachRow(rows, []any{&segment, &customer}, func() error {
		segments, customers = append(segments, segment), append(customers, customer)
		return nil
	})
	if err != nil || tag.RowsAffected() == 0 {
		return nil, 0, err
	}
	out, err := s.RefreshSegments(ctx, customers, Affects{Segments: slices.Compact(slices.Sorted(slices.Values(segments)))})
	return out, int(tag.RowsAffected()), err
}

// UndispatchedTransitions lists up to limit transitions recorded at least
// olderThan ago whose campaigns were never entered (the process that
// recorded them died first).
func (s *Store) UndispatchedTransitions(ctx context.Context, olderThan time.Duration, limit int) ([]Transition, error) {
	rows, _ := s.db.Query(ctx, `SELECT id, segment_id, customer_id, entered, at FROM segment_transitions
WHERE dispatched_at IS NULL AND at < now() - make_interval(secs => $1) ORDER BY at LIMIT $2`, olderThan.Seconds(), limit)
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Transition])
}

// MarkTransitionsDispatched records that transitions entered their
// campaigns.
func (s *Store) MarkTransitionsDispatched(ctx context.Context, ids []int64) error {
	_, err := s.db.Exec(ctx, `UPDATE segment_transitions SET dispatched_at = now() WHERE id = ANY($1) AND dispatched_at IS NULL`, ids)
	return err
}

// SegmentTriggered returns the latest versions of the active campaigns
// that entering or leaving one of the segments triggers.
func (s *Store) SegmentTriggered(ctx context.Context, segmentIDs []string) ([]Campaign, error) {
	return s.triggered(ctx, "trigger_segment", segmentIDs)
}

// sqlArgs collects a statement's arguments as its SQL is written.
type sqlArgs []any

// arg adds v and returns its placeholder.
func (q *sqlArgs) arg(v any) string {
	*q = append(*q, v)
	return "$" + strconv.Itoa(len(*q))
}

// evaluation is a SELECT of (segment_id, customer_id, member, expires_at)
// over the customers where says ("" for all): whether each is a member by
// the condition now, and when that could next change by time alone (a
// window's last qualifying event ageing out, a lapse beginning), NULL when
// only an event or a profile change can change it.
//
// Each performed test looks up the customer's Nth latest event of its name
// (for a few customers one index probe each, events_customer_name; for
// all, one pass over the events of the name): it is recent when it
// occurred within the window, and a recent one stops being recent at its
// time plus the window; that is every way time changes a test.
func evaluation(q *sqlArgs, segmentID string, c campaign.Condition, where string) string {
	ev := &evaluator{q: q, all: where == ""}
	member := ev.condition(c)
	expires := "NULL::timestamptz"
	if len(ev.changes) > 0 {
		expires = "LEAST(" + strings.Join(ev.changes, ", ") + ")"
	}
	sql := fmt.Sprintf("SELECT %s::text AS segment_id, c.id AS customer_id, %s AS member, %s AS expires_at FROM customers c%s",
		segmentID, member, expires, strings.Join(ev.joins, ""))
	if where != "" {
		sql += " WHERE " + where
	}
	return sql
}

type evaluator struct {
	q       *sqlArgs
	all     bool
	joins   []string
	changes []string
}

// condition writes c as a boolean SQL expression that is never NULL.
func (ev *evaluator) condition(c campaign.Condition) string {
	switch {
	case c.Performed != nil:
		return ev.performed(c.Performed.Behaviour())
	case c.All != nil:
		return ev.combine(c.All, " AND ")
	case c.Any != nil:
		return ev.combine(c.Any, " OR ")
	case c.Not != nil:
		return "(NOT " + ev.condition(*c.Not) + ")"
	case c.Reachable != "":
		return "(c." + campaign.ReachableField(c.Reachable) + " IS NOT NULL)"
	case c.Consent != "":
		return "c.consent_" + consentColumn(c.Consent)
	case c.Attribute != "":
		return ev.attribute(c)
	}
	return "false"
}

func (ev *evaluator) combine(subs []campaign.Condition, op string) string {
	parts := make([]string, len(subs))
	for i, sub := range subs {
		parts[i] = ev.condition(sub)
	}
	return "(" + strings.Join(parts, op) + ")"
}

// consentColumn is the customers column of a channel's consent.
func consentColumn(channel string) string {
	switch channel {
	case campaign.SMS:
		return "sms"
	case campaign.Push:
		return "push"
	}
	return "email"
}

// attribute writes the tests of an attribute condition, which must all
// hold, as campaign.Condition.Eval applies them.
func (ev *evaluator) attribute(c campaign.Condition) string {
	v := "(c.attributes #> " + ev.q.arg(strings.Split(c.Attribute, ".")) + "::text[])"
	tests := []string{"true"}
	if c.Exists != nil {
		if *c.Exists {
			tests = append(tests, v+" IS NOT NULL")
		} else {
			tests = append(tests, v+" IS NULL")
		}
	}
	if c.Equals != nil {
		tests = append(tests, "coalesce("+v+" = "+ev.q.arg(jsonValue(c.Equals))+"::jsonb, false)")
	}
	if c.In != nil {
		tests = append(tests, "EXISTS (SELECT 1 FROM jsonb_array_elements("+ev.q.arg(jsonValue(c.In))+"::jsonb) x WHERE x = "+v+")")
	}
	for _, cmp := range []struct {
		bound *float64
		op    string
	}{{c.GT, ">"}, {c.GTE, ">="}, {c.LT, "<"}, {c.LTE, "<="}} {
		if cmp.bound != nil {
			tests = append(tests, "CASE WHEN jsonb_typeof("+v+") = 'number' THEN ("+v+")::numeric "+cmp.op+" "+ev.q.arg(*cmp.bound)+"::numeric ELSE false END")
		}
	}
	return "(" + strings.Join(tests, " AND ") + ")"
}

// jsonValue is v as JSON text, for a jsonb parameter.
func jsonValue(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// performed joins the lookup of the customer's Nth latest event of the
// name and writes the test over it.
func (ev *evaluator) performed(b campaign.Behaviour) string {
	alias := "p" + strconv.Itoa(len(ev.joins))
	if ev.all {
		ev.joins = append(ev.joins, fmt.Sprintf(`
LEFT JOIN (SELECT customer_id, occurred_at FROM (
	SELECT customer_id, occurred_at, row_number() OVER (PARTITION BY customer_id ORDER BY occurred_at DESC) AS n FROM events WHERE name = %s) r
	WHERE n = %s) %s(customer_id, at) ON %[3]s.customer_id = c.id`, ev.q.arg(b.Event), ev.q.arg(b.Count), alias))
	} else {
		ev.joins = append(ev.joins, fmt.Sprintf(`
LEFT JOIN LATERAL (SELECT occurred_at FROM events WHERE customer_id = c.id AND name = %s ORDER BY occurred_at DESC OFFSET %s LIMIT 1) %s(at) ON true`,
			ev.q.arg(b.Event), ev.q.arg(b.Count-1), alias))
	}
	at := alias + ".at"
	recent := "(" + at + " IS NOT NULL)"
	if b.Window > 0 {
		window := "make_interval(secs => " + ev.q.arg(b.Window.Seconds()) + "::float8)"
		recent = "coalesce(" + at + " > now() - " + window + ", false)"
		ev.changes = append(ev.changes, "CASE WHEN "+recent+" THEN "+at+" + "+window+" END")
	}
	switch b.Holds {
	case campaign.HoldsNotRecent:
		return "(NOT " + recent + ")"
	case campaign.HoldsLapsed:
		return "(" + at + " IS NOT NULL AND NOT " + recent + ")"
	}
	return recent
}

// nonNil is list, or an empty list for a nil one: PostgreSQL's && and ANY
// take an empty array, not NULL.
func nonNil(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}
