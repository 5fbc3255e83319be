// Package fcmtest is a local stand-in for the FCM HTTP v1 API that speaks
// its wire format: POST /v1/projects/{project}/messages:send with an
// OAuth2 bearer token, {"message": {...}} in, {"name": ...} out, and
// Google API errors with FcmError details.
package fcmtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"golang.org/x/oauth2"
	"google.golang.org/api/option"

	"github.com/omni-orchestrator/omni/channels/fcm"
)

// Project and Token are what the server accepts.
const (
	Project = "omni-test"
	Token   = "ya29.test-access-token"
)

// Message is the part of an FCM v1 message the tests look at.
type Message struct {
	Token        string            `json:"token"`
	Notification map[string]string `json:"notification"`
	Data         map[string]string `json:"data"`
	Android      struct {
		Notification map[string]any `json:"notification"`
	} `json:"android"`
	APNS struct {
		Headers map[string]string `json:"headers"`
	} `json:"apns"`
	Webpush struct {
		FCMOptions struct {
			Link string `json:"link"`
		} `json:"fcm_options"`
	} `json:"webpush"`
}

// Reply is an error the server answers instead of accepting a message.
type Reply struct {
	Status    int
	Code      string // FcmError errorCode, e.g. UNREGISTERED
	Message   string
	Header    map[string]string
	RPCStatus string // google.rpc status, e.g. NOT_FOUND
}

// Server is a fake FCM.
type Server struct {
	*httptest.Server

	mu           sync.Mutex
	accepted     []Message
	replies      []Reply
	unregistered map[string]bool
}

// New starts a fake FCM. Point the Admin SDK at URL + "/v1".
func New(t testing.TB) *Server {
	s := &Server{unregistered: map[string]bool{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Sender is an FCM driver pointed at the server, with its access token.
func (s *Server) Sender(tb testing.TB) *fcm.Sender {
	return s.SenderWithToken(tb, Token)
}

// SenderWithToken is Sender with another access token.
func (s *Server) SenderWithToken(tb testing.TB, token string) *fcm.Sender {
	sender, err := fcm.New(context.Background(), Project, option.WithEndpoint(s.URL+"/v1"),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token})))
	if err != nil {
		tb.Fatal(err)
	}
	return sender
}

// Then queues replies for the next requests, in order.
func (s *Server) Then(r ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replies = append(s.replies, r...)
}

// Unregister makes a token answer UNREGISTERED from now on.
func (s *Server) Unregister(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unregistered[token] = true
}

// Accepted returns the messages accepted so far.
func (s *Server) Accepted() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.accepted...)
}

// Unregistered is FCM's answer for a token the app no longer has.
var Unregistered = Reply{Status: 404, RPCStatus: "NOT_FOUND", Code: "UNREGISTERED", Message: "Requested entity was not found."}

// QuotaExceeded is FCM's 429, with Retry-After.
func QuotaExceeded(seconds int) Reply {
	return Reply{Status: 429, RPCStatus: "RESOURCE_EXHAUSTED", Code: "QUOTA_EXCEEDED", Message: "Quota exceeded.",
		Header: map[string]string{"Retry-After": fmt.Sprint(seconds)}}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/projects/"+Project+"/messages:send" {
		writeError(w, Reply{Status: 404, RPCStatus: "NOT_FOUND", Message: "Requested entity was not found."})
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+Token {
		writeError(w, Reply{Status: 401, RPCStatus: "UNAUTHENTICATED", Code: "THIRD_PARTY_AUTH_ERROR",
			Message: "Request is missing required authentication credential."})
		return
	}
	var body struct {
		Message      *Message `json:"message"`
		ValidateOnly bool     `json:"validate_only"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Message == nil {
		writeError(w, Reply{Status: 400, RPCStatus: "INVALID_ARGUMENT", Code: "INVALID_ARGUMENT", Message: "Invalid JSON payload received."})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.replies) > 0 {
		reply := s.replies[0]
		s.replies = s.replies[1:]
		writeError(w, reply)
		return
	}
	switch m := body.Message; {
	case s.unregistered[m.Token]:
		writeError(w, Unregistered)
	case len(m.Token) < 8:
		writeError(w, Reply{Status: 400, RPCStatus: "INVALID_ARGUMENT", Code: "INVALID_ARGUMENT",
			Message: "The registration token is not a valid FCM registration token"})
	default:
		s.accepted = append(s.accepted, *m)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"name": fmt.Sprintf("projects/%s/messages/0:%d", Project, len(s.accepted))})
	}
}

func writeError(w http.ResponseWriter, r Reply) {
	w.Header().Set("Content-Type", "application/json")
	for k, v := range r.Header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(r.Status)
	e := map[string]any{"code": r.Status, "message": r.Message, "status": r.RPCStatus}
	if r.Code != "" {
		e["details"] = []map[string]string{{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": r.Code}}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"error": e})
}
