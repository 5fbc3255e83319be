// Package sendgridtest is a local stand-in for SendGrid's v3 Mail Send API
// that speaks its wire format: Bearer API keys, the JSON mail body, 202
// with X-Message-Id, and SendGrid's error bodies and rate-limit headers;
// and, when told where, it reports each mail it accepted through the Event
// Webhook (processed, then delivered), signed like SendGrid's.
package sendgridtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/sendgrid/sendgrid-go/helpers/mail"

	"github.com/omni-orchestrator/omni/channels/sendgrid"
)

// Mail is the part of a v3 Mail Send body the tests look at.
type Mail struct {
	Personalizations []struct {
		To                  []Address         `json:"to"`
		CustomArgs          map[string]string `json:"custom_args"`
		DynamicTemplateData map[string]any    `json:"dynamic_template_data"`
	} `json:"personalizations"`
	From    Address `json:"from"`
	Subject string  `json:"subject"`
	Content []struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"content"`
	TemplateID string            `json:"template_id"`
	CustomArgs map[string]string `json:"custom_args"`
	Categories []string          `json:"categories"`
	ASM        *struct {
		GroupID int `json:"group_id"`
	} `json:"asm"`
}

// Address is an email address with an optional name.
type Address struct {
	Email string `json:"email"`
	Name  string `json:"name,omitempty"`
}

// Reply is an answer the server gives instead of accepting a mail.
type Reply struct {
	Status int
	Header map[string]string
	Body   string
	// HangUp accepts the mail, then drops the connection without an
	// answer: the sender cannot tell whether SendGrid has it.
	HangUp bool
}

// HangUp is a reply that takes the mail and never answers.
var HangUp = Reply{HangUp: true}

// Webhook is where and how the server reports accepted mail.
type Webhook struct {
	URL string
	// Key signs the requests (ECDSA P-256, as SendGrid's signed Event
	// Webhook); nil sends them unsigned.
	Key *ecdsa.PrivateKey
	// Delay is how long after accepting a mail its events go out.
	Delay time.Duration
	// Drop sends no events for the n-th accepted mails it holds (1-based).
	Drop map[int]bool
	// Twice sends every request two times, as SendGrid's retries do.
	Twice bool
}

// Server is a fake SendGrid.
type Server struct {
	*httptest.Server
	APIKey string

	mu       sync.Mutex
	accepted []Mail
	replies  []Reply
	requests int
	webhook  Webhook
	events   sync.WaitGroup
	latency  time.Duration
}

// New starts a fake SendGrid that accepts the API key "SG.test".
func New(t testing.TB) *Server {
	s := &Server{APIKey: "SG.test"}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Sender is a SendGrid driver pointed at the server.
func (s *Server) Sender() *sendgrid.Sender {
	return &sendgrid.Sender{APIKey: s.APIKey, Host: s.URL, From: mail.Email{Name: "Omni Shop", Address: "news@shop.example"}}
}

// Answer has the server take d to answer each Mail Send request from now
// on, as a busy SendGrid does.
func (s *Server) Answer(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// ReportTo has the server report each mail it accepts from now on to the
// Event Webhook w describes.
func (s *Server) ReportTo(w Webhook) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhook = w
}

// Then queues replies for the next requests, in order; once they are
// used up the server accepts mail again.
func (s *Server) Then(r ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replies = append(s.replies, r...)
}

// Accepted returns the mails accepted so far.
func (s *Server) Accepted() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.accepted...)
}

// Requests counts the Mail Send requests received, accepted or not.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodPost || r.URL.Path != "/v3/mail/send" {
		fail(w, http.StatusNotFound, "", "not found")
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.APIKey {
		fail(w, http.StatusUnauthorized, "", "The provided authorization grant is invalid, expired, or revoked")
		return
	}
	var m Mail
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil || r.Header.Get("Content-Type") != "application/json" {
		fail(w, http.StatusBadRequest, "", "Bad Request")
		return
	}
	s.mu.Lock()
	s.requests++
	latency := s.latency
	s.mu.Unlock()
	time.Sleep(latency)
	s.mu.Lock()
	var reply *Reply
	if len(s.replies) > 0 {
		reply = &s.replies[0]
		s.replies = s.replies[1:]
	}
	var id string
	switch {
	case reply != nil && !reply.HangUp:
	case len(m.Personalizations) == 0 || len(m.Personalizations[0].To) == 0,
		m.From.Email == "", m.TemplateID == "" && (m.Subject == "" || len(m.Content) == 0):
	default:
		id = s.accept(m)
	}
	s.mu.Unlock()
	switch {
	case reply != nil && reply.HangUp:
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = conn.Close()
		}
	case reply != nil:
		for k, v := range reply.Header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(reply.Status)
		fmt.Fprint(w, reply.Body)
	case len(m.Personalizations) == 0 || len(m.Personalizations[0].To) == 0:
		fail(w, http.StatusBadRequest, "personalizations", "The personalizations field is required and must have at least one personalization.")
	case m.From.Email == "":
		fail(w, http.StatusBadRequest, "from.email", "The from email does not contain a valid address.")
	case m.TemplateID == "" && (m.Subject == "" || len(m.Content) == 0):
		fail(w, http.StatusBadRequest, "content", "Unless a valid template_id is provided, the content parameter is required.")
	default:
		w.Header().Set("X-Message-Id", id)
		w.WriteHeader(http.StatusAccepted)
	}
}

// accept keeps m and reports it to the webhook; s.mu is held.
func (s *Server) accept(m Mail) string {
	s.accepted = append(s.accepted, m)
	n := len(s.accepted)
	id := fmt.Sprintf("sg%06dAbCdEf", n)
	if wh := s.webhook; wh.URL != "" && !wh.Drop[n] {
		s.events.Add(1)
		go func() {
			defer s.events.Done()
			time.Sleep(wh.Delay)
			s.report(wh, m, id, n)
		}()
	}
	return id
}

// report posts the processed and delivered events of an accepted mail,
// with its custom arguments, as SendGrid does.
func (s *Server) report(wh Webhook, m Mail, id string, n int) {
	now := time.Now().Unix()
	var events []map[string]any
	for _, kind := range []string{"processed", "delivered"} {
		e := map[string]any{"email": m.Personalizations[0].To[0].Email, "timestamp": now, "event": kind,
			"sg_event_id": fmt.Sprintf("%s-%d-%s", kind, n, id), "sg_message_id": id + ".recvd-1.0", "category": m.Categories}
		for k, v := range m.CustomArgs {
			e[k] = v
		}
		events = append(events, e)
	}
	body, _ := json.Marshal(events)
	for range map[bool]int{false: 1, true: 2}[wh.Twice] {
		req, err := http.NewRequest(http.MethodPost, wh.URL, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/json")
		if wh.Key != nil {
			ts := fmt.Sprint(time.Now().Unix())
			digest := sha256.Sum256(append([]byte(ts), body...))
			sig, _ := ecdsa.SignASN1(rand.Reader, wh.Key, digest[:])
			req.Header.Set(sendgrid.SignatureHeader, base64.StdEncoding.EncodeToString(sig))
			req.Header.Set(sendgrid.TimestampHeader, ts)
		}
		if res, err := http.DefaultClient.Do(req); err == nil {
			_ = res.Body.Close()
		}
	}
}

// WaitForWebhooks returns once the events of every mail accepted so far
// have been posted.
func (s *Server) WaitForWebhooks() { s.events.Wait() }

// fail writes SendGrid's error body.
func fail(w http.ResponseWriter, status int, field, message string) {
	w.WriteHeader(status)
	var f any
	if field != "" {
		f = field
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{"message": message, "field": f, "help": nil}}})
}

// TooManyRequests is SendGrid's 429, with its rate-limit headers.
func TooManyRequests(resetUnix int64) Reply {
	return Reply{Status: http.StatusTooManyRequests, Header: map[string]string{
		"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": fmt.Sprint(resetUnix),
	}, Body: `{"errors":[{"field":null,"message":"too many requests"}]}`}
}

// ServerError is a 5xx.
func ServerError(status int) Reply {
	return Reply{Status: status, Body: `{"errors":[{"field":null,"message":"internal error"}]}`}
}
