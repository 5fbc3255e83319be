package campaign

import "regexp"

// An IDRule is what an identifier of one kind may be. Identifiers travel
// far from the request that brought them: into the store, into URLs, and
// into Temporal workflow ids (`journey:<campaign_id>:<customer_id>`), which
// the SDK also sends as a gRPC header, and a header carries printable
// ASCII only. An id with a control character or a non-ASCII letter would
// be stored and then fail every start, signal and cancel of its journeys,
// so every kind of id is checked here, by the API when it comes in and by
// the launch that meets one stored before these rules existed.
type IDRule struct {
	// Pattern is a regular expression that Go and PostgreSQL read alike,
	// so that `omni migrate` can ask the database for stored ids that
	// break the rule.
	Pattern string
	// Rule says what the id may be, for error messages and the report.
	Rule string
	re   *regexp.Regexp
}

func idRule(pattern, rule string) IDRule {
	return IDRule{Pattern: pattern, Rule: rule, re: regexp.MustCompile(pattern)}
}

// The rules of each kind of id. Customer, offer and event ids come from
// other systems (a CRM's ids, a shop's SKUs, a provider's event ids), so
// they may use any visible ASCII character; spaces are left out because an
// id that starts or ends with one is a copy-and-paste accident and HTTP/2
// refuses such a header. Percent-encoded, all of them work in a URL path
// (`/v1/customers/a%2Fb` is customer `a/b`). Campaign ids are stricter:
// they are also the prefix of other ids, split at `:`.
var (
	CustomerID = idRule(`^[!-~]{1,128}$`, "1 to 128 visible ASCII characters (letters, digits and punctuation; no spaces or control characters)")
	OfferID    = idRule(`^[!-~]{1,128}$`, "1 to 128 visible ASCII characters (letters, digits and punctuation; no spaces or control characters)")
	EventID    = idRule(`^[!-~]{1,200}$`, "1 to 200 visible ASCII characters (letters, digits and punctuation; no spaces or control characters)")
	CampaignID = idRule(namePattern.String(), "1 to 100 letters, digits, '_' or '-', starting with a letter or digit")
)

// Valid reports whether id keeps the rule.
func (r IDRule) Valid(id string) bool { return r.re.MatchString(id) }

// Check adds a problem at path to ps when id is missing or breaks the rule.
func (r IDRule) Check(ps *Problems, path, id string) {
	switch {
	case id == "":
		ps.add(path, "required")
	case !r.Valid(id):
		ps.add(path, "must be %s", r.Rule)
	}
}
