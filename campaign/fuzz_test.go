package campaign

import (
	"encoding/json"
	"testing"
)

// FuzzParse feeds arbitrary documents to the parser and validator: they
// must never panic, and a definition they accept must survive the JSON
// round trip into a journey's input and validate again.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{welcome, springSale, `{}`, `[]`, `{"id": "x", "start_at": "a", "steps": {"a": {"exit": {}}}}`,
		`{"id": "x", "start_at": "a", "steps": {"a": {"branch": [{"when": {"not": {"any": [{"attribute": "t", "gte": 1}]}}, "next": "a"}], "else": "a"}}}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, ps := Parse(data)
		if d == nil {
			if len(ps) == 0 {
				t.Fatal("rejected without a problem")
			}
			return
		}
		if len(ps) > 0 {
			t.Fatalf("accepted with problems %v", ps)
		}
		doc, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var back Definition
		if err := json.Unmarshal(doc, &back); err != nil {
			t.Fatal(err)
		}
		if ps := back.Validate(); len(ps) > 0 {
			t.Fatalf("valid definition invalid after a round trip: %v\n%s", ps, doc)
		}
		if order := d.StepOrder(); len(order) != len(d.Steps) {
			t.Fatalf("step order %v misses steps of %v", order, d.stepNames())
		}
	})
}
