// Package twiliotest is a local stand-in for Twilio's Messages resource
// that speaks its wire format: HTTP Basic auth with the account SID and
// auth token, form-encoded parameters, 201 with the message JSON, and
// Twilio's error bodies ({"code", "message", "more_info", "status"}).
package twiliotest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/omni-orchestrator/omni/channels/twilio"
)

// Reply is an answer the server gives instead of accepting a message.
type Reply struct {
	Status int
	Code   int // Twilio's error code
	Header map[string]string
}

// Server is a fake Twilio.
type Server struct {
	*httptest.Server
	AccountSID, AuthToken string

	mu       sync.Mutex
	accepted []url.Values
	replies  []Reply
}

// New starts a fake Twilio for account "AC" + 32 zeros, token "secret".
func New(t testing.TB) *Server {
	s := &Server{AccountSID: "AC00000000000000000000000000000000", AuthToken: "secret"}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Sender is a Twilio driver pointed at the server, sending from +15005550006.
func (s *Server) Sender() *twilio.Sender {
	return &twilio.Sender{AccountSID: s.AccountSID, AuthToken: s.AuthToken, From: "+15005550006", BaseURL: s.URL}
}

// Then queues replies for the next requests, in order.
func (s *Server) Then(r ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replies = append(s.replies, r...)
}

// Accepted returns the form parameters of the messages accepted so far.
func (s *Server) Accepted() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]url.Values(nil), s.accepted...)
}

var messages = map[int]string{
	20003: "Authenticate",
	20429: "Too Many Requests",
	21211: "The 'To' number is not a valid phone number.",
	21604: "A 'To' phone number is required.",
	21610: "Attempt to send to unsubscribed recipient",
	20500: "An internal server error has occurred",
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodPost || r.URL.Path != "/2010-04-01/Accounts/"+s.AccountSID+"/Messages.json" {
		writeError(w, Reply{Status: http.StatusNotFound, Code: 20404})
		return
	}
	if user, pass, ok := r.BasicAuth(); !ok || user != s.AccountSID || pass != s.AuthToken {
		writeError(w, Reply{Status: http.StatusUnauthorized, Code: 20003})
		return
	}
	if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || r.ParseForm() != nil {
		writeError(w, Reply{Status: http.StatusBadRequest, Code: 20001})
		return
	}
	f := r.PostForm
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.replies) > 0 {
		reply := s.replies[0]
		s.replies = s.replies[1:]
		writeError(w, reply)
		return
	}
	switch {
	case f.Get("To") == "":
		writeError(w, Reply{Status: http.StatusBadRequest, Code: 21604})
	case f.Get("To")[0] != '+':
		writeError(w, Reply{Status: http.StatusBadRequest, Code: 21211})
	default:
		s.accepted = append(s.accepted, f)
		sid := fmt.Sprintf("SM%032d", len(s.accepted))
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"sid": sid, "account_sid": s.AccountSID, "to": f.Get("To"), "from": f.Get("From"),
			"messaging_service_sid": f.Get("MessagingServiceSid"), "body": f.Get("Body"), "status": "queued",
			"num_segments": "1", "direction": "outbound-api", "api_version": "2010-04-01",
			"uri": "/2010-04-01/Accounts/" + s.AccountSID + "/Messages/" + sid + ".json",
		})
	}
}

func writeError(w http.ResponseWriter, r Reply) {
	for k, v := range r.Header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(r.Status)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": r.Code, "message": messages[r.Code],
		"more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", r.Code), "status": r.Status})
}
