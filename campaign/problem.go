package campaign

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Problem is one thing wrong with a request body, at a JSON path such as
// `steps.email-1.send.channel` or `[2].phone` ("" for the document itself).
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// Problems is a list of problems that is also an error.
type Problems []Problem

func (ps Problems) Error() string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, "; ")
}

func (ps *Problems) add(path, format string, args ...any) {
	*ps = append(*ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

// Join appends key to a JSON path.
func Join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Index appends an array index to a JSON path.
func Index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// DecodeStrict decodes JSON into v, refusing unknown fields and duplicate
// keys, and reports a failure as a Problem at the JSON path where it happened.
func DecodeStrict(data []byte, v any) *Problem {
	err := jsonv2.Unmarshal(data, v, jsonv2.RejectUnknownMembers(true))
	if err == nil {
		return nil
	}
	var syn *jsontext.SyntacticError
	if errors.As(err, &syn) {
		return &Problem{Path: pointerPath(syn.JSONPointer), Message: fmt.Sprintf("malformed JSON at byte %d: %v", syn.ByteOffset, syn.Err)}
	}
	var sem *jsonv2.SemanticError
	if errors.As(err, &sem) {
		p := &Problem{Path: pointerPath(sem.JSONPointer)}
		switch {
		case errors.Is(sem.Err, jsonv2.ErrUnknownName):
			p.Message = "unknown field"
		case sem.GoType != nil && sem.JSONKind != 0:
			p.Message = fmt.Sprintf("expected %s, got %s", jsonKind(sem.GoType.Kind().String()), sem.JSONKind)
		case sem.Err != nil:
			p.Message = sem.Err.Error()
		default:
			p.Message = "invalid value"
		}
		return p
	}
	return &Problem{Message: "invalid JSON: " + err.Error()}
}

// TextProblem reports the first string of a JSON document, a member name
// or a value, that holds a NUL character (`\u0000`) or is not valid UTF-8,
// at its path; nil when there is none. PostgreSQL stores neither in text
// or jsonb, so such a string must be refused before anything is written.
// A document that is not JSON is left to DecodeStrict to explain.
func TextProblem(data []byte) *Problem {
	if utf8.Valid(data) && !bytes.Contains(data, []byte(`\u0000`)) {
		return nil // the common case: nothing to walk
	}
	dec := jsontext.NewDecoder(bytes.NewReader(data), jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true))
	var text []byte
	for {
		var err error
		if dec.PeekKind() != '"' {
			_, err = dec.ReadToken()
		} else {
			var raw jsontext.Value
			if raw, err = dec.ReadValue(); err == nil {
				path := pointerPath(dec.StackPointer())
				if !utf8.Valid(raw) {
					return &Problem{Path: path, Message: "not valid UTF-8"}
				}
				if text, err = jsontext.AppendUnquote(text[:0], raw); err == nil && bytes.IndexByte(text, 0) >= 0 {
					return &Problem{Path: path, Message: "contains a NUL character (\\u0000), which cannot be stored"}
				}
			}
		}
		if err != nil {
			return nil // the end, or malformed JSON
		}
	}
}

// jsonKind names a Go kind the way a JSON author thinks of it.
func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	case "bool":
		return "true or false"
	case "ptr", "interface":
		return "a value"
	default:
		return "a number"
	}
}

// plainKey is a member name printed as it is; others are quoted, which
// also shows control characters and invalid UTF-8 as escapes.
var plainKey = regexp.MustCompile(`^[^.\[\]"\x00-\x1f\x7f]+$`)

// pointerPath turns an RFC 6901 pointer into our dotted path. A pointer
// cannot tell an array index from a numeric object key; both print as [n].
func pointerPath(ptr jsontext.Pointer) string {
	path := ""
	for tok := range ptr.Tokens() {
		if n, err := strconv.Atoi(tok); err == nil && n >= 0 {
			path = Index(path, n)
			continue
		}
		if !plainKey.MatchString(tok) || !utf8.ValidString(tok) {
			tok = strconv.Quote(tok)
		}
		path = Join(path, tok)
	}
	return path
}
