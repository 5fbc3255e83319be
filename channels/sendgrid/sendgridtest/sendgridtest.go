// Package sendgridtest is a local stand-in for SendGrid's v3 Mail Send API
// that speaks its wire format: Bearer API keys, the JSON mail body, 202
// with X-Message-Id, and SendGrid's error bodies and rate-limit headers.
package sendgridtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

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
}

// Server is a fake SendGrid.
type Server struct {
	*httptest.Server
	APIKey string

	mu       sync.Mutex
	accepted []Mail
	replies  []Reply
	requests int
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
	defer s.mu.Unlock()
	s.requests++
	if len(s.replies) > 0 {
		reply := s.replies[0]
		s.replies = s.replies[1:]
		for k, v := range reply.Header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(reply.Status)
		fmt.Fprint(w, reply.Body)
		return
	}
	switch {
	case len(m.Personalizations) == 0 || len(m.Personalizations[0].To) == 0:
		fail(w, http.StatusBadRequest, "personalizations", "The personalizations field is required and must have at least one personalization.")
	case m.From.Email == "":
		fail(w, http.StatusBadRequest, "from.email", "The from email does not contain a valid address.")
	case m.TemplateID == "" && (m.Subject == "" || len(m.Content) == 0):
		fail(w, http.StatusBadRequest, "content", "Unless a valid template_id is provided, the content parameter is required.")
	default:
		s.accepted = append(s.accepted, m)
		w.Header().Set("X-Message-Id", fmt.Sprintf("sg%06dAbCdEf", len(s.accepted)))
		w.WriteHeader(http.StatusAccepted)
	}
}

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
