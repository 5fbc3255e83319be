package api_test

import (
	"context"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"gopkg.in/yaml.v3"

	"github.com/omni-orchestrator/omni/api"
)

// The spec and the routes must not drift apart: every route is documented
// and every documented operation is served.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	data, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(data, &spec); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	var documented []string
	for path, ops := range spec.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	param := regexp.MustCompile(`:(\w+)`)
	var served []string
	for _, r := range (&api.Server{}).Handler().Routes() {
		served = append(served, r.Method+" "+param.ReplaceAllString(r.Path, "{$1}"))
	}
	slices.Sort(documented)
	slices.Sort(served)
	if !slices.Equal(documented, served) {
		t.Fatalf("documented:\n  %s\nserved:\n  %s", strings.Join(documented, "\n  "), strings.Join(served, "\n  "))
	}
}

func TestOpenAPIIsAValidDocument(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Each operation's security in the spec is what the route table says:
// none for a public route, the bearer scheme with the route's scope
// otherwise, and a scoped operation documents 401, 403 and 429.
func TestOpenAPISecurityIsTheRouteTable(t *testing.T) {
	data, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	type operation struct {
		Security  *[]map[string][]string `yaml:"security"`
		Responses map[string]any         `yaml:"responses"`
	}
	var spec struct {
		Paths map[string]map[string]operation `yaml:"paths"`
	}
	if err := yaml.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`:(\w+)`)
	for _, r := range api.Routes() {
		name := r.Method + " " + r.Path
		op, ok := spec.Paths[param.ReplaceAllString(r.Path, "{$1}")][strings.ToLower(r.Method)]
		switch {
		case !ok:
			t.Errorf("%s: not in the spec", name)
		case op.Security == nil:
			t.Errorf("%s: the spec gives it no security (public ones say security: [])", name)
		case r.Public != "" && len(*op.Security) != 0:
			t.Errorf("%s is public, the spec asks for %v", name, *op.Security)
		case r.Public == "" && !reflect.DeepEqual(*op.Security, []map[string][]string{{"bearer": {string(r.Scope)}}}):
			t.Errorf("%s needs %s, the spec says %v", name, r.Scope, *op.Security)
		case r.Public == "":
			for _, status := range []string{"401", "403", "429"} {
				if op.Responses[status] == nil {
					t.Errorf("%s: the spec does not document %s", name, status)
				}
			}
		}
	}
}
