// Package segmentspec reads the Segment Spec
// (https://segment.com/docs/connections/spec/): the identify, track and
// batch calls that Segment, RudderStack and their libraries send, so that
// an existing pipeline can feed omni unchanged. It parses the wire format
// and says what each call means to omni (a customer change, an event); the
// API validates and records them like its own.
package segmentspec

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/omni-orchestrator/omni/store"
)

// The call types omni acts on; the others (page, screen, group, alias)
// are read and answered as ignored.
const (
	Identify = "identify"
	Track    = "track"
)

// Message is one call. Fields omni does not read (integrations, most of
// context, sentAt, …) are ignored, as the Spec lets receivers do.
type Message struct {
	Type        string         `json:"type"`
	MessageID   string         `json:"messageId"`
	UserID      ID             `json:"userId"`
	AnonymousID ID             `json:"anonymousId"`
	Event       string         `json:"event"`
	Properties  map[string]any `json:"properties"`
	Traits      map[string]any `json:"traits"`
	Context     Context        `json:"context"`
	// Timestamp is when the call happened; libraries that correct for
	// the device's clock set it, the others originalTimestamp.
	Timestamp         *time.Time `json:"timestamp"`
	OriginalTimestamp *time.Time `json:"originalTimestamp"`
}

// Context is what omni reads of a call's context: the device's time zone
// and locale become the customer's.
type Context struct {
	Timezone string `json:"timezone"`
	Locale   string `json:"locale"`
}

// ID is a user id, which some libraries send as a number.
type ID string

// UnmarshalJSON takes a string or a number.
func (id *ID) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*id = ""
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*id = ID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return errors.New("a user id is a string or a number")
	}
	*id = ID(n.String())
	return nil
}

// Parse reads a body: one call, or a batch ({"batch": [...]}). single
// says which, so the answer can take the one call's status.
func Parse(body []byte) (messages []Message, single bool, err error) {
	var probe struct {
		Batch json.RawMessage `json:"batch"`
	}
	if err := json.Unmarshal(body, &probe); err != nil {
		return nil, false, err
	}
	if probe.Batch == nil {
		var m Message
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, true, err
		}
		return []Message{m}, true, nil
	}
	if err := json.Unmarshal(probe.Batch, &messages); err != nil {
		return nil, false, err
	}
	return messages, false, nil
}

// When is when the call happened, nil if it does not say.
func (m Message) When() *time.Time {
	if m.Timestamp != nil {
		return m.Timestamp
	}
	return m.OriginalTimestamp
}

// Patch is what an identify call changes of the customer: userId names
// them; the reserved traits email and phone are their addresses, the
// context's time zone and locale theirs; every other trait is an
// attribute, merged into those stored.
func (m Message) Patch() store.CustomerPatch {
	p := store.CustomerPatch{ID: string(m.UserID)}
	attrs := map[string]any{}
	for k, v := range m.Traits {
		switch k {
		case "email":
			p.Email = text(v)
		case "phone":
			p.Phone = phone(text(v))
		default:
			attrs[k] = v
		}
	}
	if len(attrs) > 0 {
		p.Attributes = attrs
	}
	if m.Context.Timezone != "" {
		p.Timezone = &m.Context.Timezone
	}
	if m.Context.Locale != "" {
		p.Locale = &m.Context.Locale
	}
	return p
}

// phone drops the spaces, dashes, dots and parentheses people write in
// phone numbers, leaving what E.164 allows.
func phone(s *string) *string {
	out := strings.Map(func(r rune) rune {
		if strings.ContainsRune(" -.()", r) {
			return -1
		}
		return r
	}, *s)
	return &out
}

// text is a trait as a string: a number (a phone number sent as one)
// becomes its digits; a null clears the field.
func text(v any) *string {
	var s string
	switch v := v.(type) {
	case nil:
	case string:
		s = v
	case float64:
		s = strconv.FormatFloat(v, 'f', -1, 64)
	default:
		b, _ := json.Marshal(v)
		s = string(b)
	}
	return &s
}
