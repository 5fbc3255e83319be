package campaign

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

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

var plainKey = regexp.MustCompile(`^[^.\[\]"]+$`)

// pointerPath turns an RFC 6901 pointer into our dotted path. A pointer
// cannot tell an array index from a numeric object key; both print as [n].
func pointerPath(ptr jsontext.Pointer) string {
	path := ""
	for tok := range ptr.Tokens() {
		if n, err := strconv.Atoi(tok); err == nil && n >= 0 {
			path = Index(path, n)
			continue
		}
		if !plainKey.MatchString(tok) {
			tok = strconv.Quote(tok)
		}
		path = Join(path, tok)
	}
	return path
}
