// Package twiliotest is a local stand-in for Twilio's Messages resource
// that speaks its wire format: HTTP Basic auth with the account SID and
// auth token, form-encoded parameters, 201 with the message JSON, the
// list of a recipient's messages, and Twilio's error bodies ({"code",
// "message", "more_info", "status"}); it calls each message's
// StatusCallback (sent, then delivered), signed like Twilio's.
package twiliotest

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omni-orchestrator/omni/channels/twilio"
)

// Reply is an answer the server gives instead of accepting a message.
type Reply struct {
	Status int
	Code   int // Twilio's error code
	Header map[string]string
	// HangUp accepts the message, then drops the connection without an
	// answer: the sender cannot tell whether Twilio has it.
	HangUp bool
}

// HangUp is a reply that takes the message and never answers.
var HangUp = Reply{HangUp: true}

// Callbacks is how the server calls messages' status callbacks.
type Callbacks struct {
	// Delay is how long after accepting a message its callbacks go out.
	Delay time.Duration
	// Drop calls no callback for the n-th accepted messages it holds
	// (1-based).
	Drop map[int]bool
	// Off calls none.
	Off bool
}

// message is an accepted message as Twilio keeps it.
type message struct {
	sid     string
	form    url.Values
	created time.Time
}

// Server is a fake Twilio.
type Server struct {
	*httptest.Server
	AccountSID, AuthToken string

	mu        sync.Mutex
	accepted  []message
	replies   []Reply
	callbacks Callbacks
	calls     sync.WaitGroup
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
	out := make([]url.Values, len(s.accepted))
	for i, m := range s.accepted {
		out[i] = m.form
	}
	return out
}

// CallBack sets how status callbacks are called from now on.
func (s *Server) CallBack(c Callbacks) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.callbacks = c
}

// WaitForCallbacks returns once the callbacks of every message accepted so
// far have been called.
func (s *Server) WaitForCallbacks() { s.calls.Wait() }

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
	if r.URL.Path != "/2010-04-01/Accounts/"+s.AccountSID+"/Messages.json" || r.Method != http.MethodPost && r.Method != http.MethodGet {
		writeError(w, Reply{Status: http.StatusNotFound, Code: 20404})
		return
	}
	if user, pass, ok := r.BasicAuth(); !ok || user != s.AccountSID || pass != s.AuthToken {
		writeError(w, Reply{Status: http.StatusUnauthorized, Code: 20003})
		return
	}
	if r.Method == http.MethodGet {
		s.list(w, r.URL.Query())
		return
	}
	if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || r.ParseForm() != nil {
		writeError(w, Reply{Status: http.StatusBadRequest, Code: 20001})
		return
	}
	f := r.PostForm
	s.mu.Lock()
	var reply *Reply
	if len(s.replies) > 0 {
		reply = &s.replies[0]
		s.replies = s.replies[1:]
	}
	var m message
	valid := f.Get("To") != "" && f.Get("To")[0] == '+'
	if valid && (reply == nil || reply.HangUp) {
		m = s.accept(f)
	}
	s.mu.Unlock()
	switch {
	case reply != nil && reply.HangUp:
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = conn.Close()
		}
	case reply != nil:
		writeError(w, *reply)
	case f.Get("To") == "":
		writeError(w, Reply{Status: http.StatusBadRequest, Code: 21604})
	case !valid:
		writeError(w, Reply{Status: http.StatusBadRequest, Code: 21211})
	default:
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(s.resource(m, "queued"))
	}
}

// accept keeps a message and calls its status callback; s.mu is held.
func (s *Server) accept(f url.Values) message {
	m := message{sid: fmt.Sprintf("SM%032d", len(s.accepted)+1), form: f, created: time.Now()}
	s.accepted = append(s.accepted, m)
	if cb := s.callbacks; f.Get("StatusCallback") != "" && !cb.Off && !cb.Drop[len(s.accepted)] {
		s.calls.Add(1)
		go func() {
			defer s.calls.Done()
			time.Sleep(cb.Delay)
			for _, status := range []string{"sent", "delivered"} {
				s.callBack(f.Get("StatusCallback"), m, status)
			}
		}()
	}
	return m
}

// callBack posts a status callback, signed with the auth token.
func (s *Server) callBack(to string, m message, status string) {
	form := url.Values{"MessageSid": {m.sid}, "SmsSid": {m.sid}, "AccountSid": {s.AccountSID}, "MessageStatus": {status},
		"SmsStatus": {status}, "To": {m.form.Get("To")}, "From": {m.form.Get("From")}, "ApiVersion": {"2010-04-01"}}
	req, err := http.NewRequest(http.MethodPost, to, strings.NewReader(form.Encode()))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(twilio.SignatureHeader, Sign(s.AuthToken, to, form))
	if res, err := http.DefaultClient.Do(req); err == nil {
		_ = res.Body.Close()
	}
}

// Sign signs a request the way Twilio does: HMAC-SHA1 with the auth token
// over the full URL followed by each parameter's name and value, sorted by
// name, base64.
func Sign(token, fullURL string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range keys {
		b.WriteString(k + form.Get(k))
	}
	mac := hmac.New(sha1.New, []byte(token))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// list answers a page of a recipient's messages, newest first.
func (s *Server) list(w http.ResponseWriter, q url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for i := len(s.accepted) - 1; i >= 0; i-- {
		if m := s.accepted[i]; q.Get("To") == "" || m.form.Get("To") == q.Get("To") {
			out = append(out, s.resource(m, "delivered"))
		}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"messages": out, "page": 0, "page_size": len(out),
		"uri": "/2010-04-01/Accounts/" + s.AccountSID + "/Messages.json", "next_page_uri": nil})
}

// resource is a message as Twilio's API answers it.
func (s *Server) resource(m message, status string) map[string]any {
	return map[string]any{
		"sid": m.sid, "account_sid": s.AccountSID, "to": m.form.Get("To"), "from": m.form.Get("From"),
		"messaging_service_sid": m.form.Get("MessagingServiceSid"), "body": m.form.Get("Body"), "status": status,
		"num_segments": "1", "direction": "outbound-api", "api_version": "2010-04-01",
		"date_created": m.created.UTC().Format(time.RFC1123Z),
		"uri":          "/2010-04-01/Accounts/" + s.AccountSID + "/Messages/" + m.sid + ".json",
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
