package api

import (
	"encoding/csv"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/store"
)

// Metrics are counts by metric name.
type Metrics map[string]int64

// rates derives the rates every channel shares: per message sent, the
// share delivered, opened, clicked, bounced and unsubscribed.
func (m Metrics) rates() map[string]float64 {
	out := map[string]float64{}
	if sent := m["sent"]; sent > 0 {
		for _, k := range []string{campaign.Delivered, campaign.Opened, campaign.Clicked, campaign.Bounced, campaign.Unsubscribed, campaign.Rejected} {
			out[k+"_rate"] = float64(m[k]) / float64(sent)
		}
	}
	return out
}

// Group is one slice of a campaign's KPIs with its rates.
type Group struct {
	Metrics Metrics            `json:"metrics"`
	Rates   map[string]float64 `json:"rates"`
}

// VariantStats are an experiment variant's journeys and conversion.
type VariantStats struct {
	Enrolled       int64   `json:"enrolled"`
	Converted      int64   `json:"converted"`
	ConversionRate float64 `json:"conversion_rate"`
	// Against the control group: the relative uplift of the conversion
	// rate and the two-sided p-value of a two-proportion z-test.
	Uplift *float64 `json:"uplift,omitempty"`
	PValue *float64 `json:"p_value,omitempty"`
	Group
}

// Stats are a campaign's KPIs.
type Stats struct {
	CampaignID string `json:"campaign_id"`
	// Journeys: enrolled, converted (the goal arrived) and ended:<status>.
	Journeys Metrics                 `json:"journeys"`
	Total    Group                   `json:"total"`
	Channels map[string]Group        `json:"channels"`
	Steps    map[string]Group        `json:"steps"`
	Variants map[string]VariantStats `json:"variants,omitempty"`
}

func (s *Server) getStats(c echo.Context) error {
	id, counters, err := s.counters(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, buildStats(id, counters))
}

// counters loads the counters of the campaign the path names.
func (s *Server) counters(c echo.Context) (string, []store.Counter, error) {
	stored, err := s.campaign(c.Request().Context(), c.Param("id"))
	if err != nil {
		return "", nil, err
	}
	counters, err := s.Store.CampaignCounters(c.Request().Context(), stored.ID)
	return stored.ID, counters, err
}

// csvWriter starts a CSV download named file.
func csvWriter(c echo.Context, file string) *csv.Writer {
	c.Response().Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	c.Response().Header().Set("Content-Disposition", `attachment; filename="`+file+`"`)
	c.Response().WriteHeader(http.StatusOK)
	return csv.NewWriter(c.Response())
}

// cell is a text value as a CSV cell. Spreadsheets run a cell that begins
// with = + - @ (or a tab or carriage return before one) as a formula, and
// customer ids, variant names and exit reasons come from outside: such a
// cell gets a leading ' (OWASP's advice against CSV injection), so that it
// is read as text.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func buildStats(id string, counters []store.Counter) Stats {
	st := Stats{CampaignID: id, Journeys: Metrics{}, Channels: map[string]Group{}, Steps: map[string]Group{}}
	total := Metrics{}
	channels, steps := map[string]Metrics{}, map[string]Metrics{}
	// A variant's journey counts and its message and response counts: a
	// converted journey and a converted response are not the same count.
	variantJourneys, variants := map[string]Metrics{}, map[string]Metrics{}
	add := func(groups map[string]Metrics, key, metric string, n int64) {
		if groups[key] == nil {
			groups[key] = Metrics{}
		}
		groups[key][metric] += n
	}
	for _, k := range counters {
		if k.Channel == "" && k.Step == "" {
			st.Journeys[k.Metric] += k.N
			if k.Variant != "" {
				add(variantJourneys, k.Variant, k.Metric, k.N)
			}
			continue
		}
		if k.Variant != "" {
			add(variants, k.Variant, k.Metric, k.N)
		}
		total[k.Metric] += k.N
		if k.Channel != "" {
			add(channels, k.Channel, k.Metric, k.N)
		}
		if k.Step != "" {
			add(steps, k.Step, k.Metric, k.N)
		}
	}
	st.Total = Group{Metrics: total, Rates: total.rates()}
	for ch, m := range channels {
		st.Channels[ch] = Group{Metrics: m, Rates: m.rates()}
	}
	for step, m := range steps {
		st.Steps[step] = Group{Metrics: m, Rates: m.rates()}
	}
	if len(variantJourneys) > 0 {
		st.Variants = map[string]VariantStats{}
		for v, j := range variantJourneys {
			m := variants[v]
			if m == nil {
				m = Metrics{}
			}
			vs := VariantStats{Enrolled: j["enrolled"], Converted: j["converted"], Group: Group{Metrics: m, Rates: m.rates()}}
			if vs.Enrolled > 0 {
				vs.ConversionRate = float64(vs.Converted) / float64(vs.Enrolled)
			}
			st.Variants[v] = vs
		}
		if control, ok := st.Variants["control"]; ok && control.Enrolled > 0 {
			for v, vs := range st.Variants {
				if v == "control" || vs.Enrolled == 0 {
					continue
				}
				if control.ConversionRate > 0 {
					uplift := vs.ConversionRate/control.ConversionRate - 1
					vs.Uplift = &uplift
				}
				p := twoProportionP(vs.Converted, vs.Enrolled, control.Converted, control.Enrolled)
				vs.PValue = &p
				st.Variants[v] = vs
			}
		}
	}
	return st
}

// twoProportionP is the two-sided p-value of the z-test that two
// conversion rates are equal (pooled standard error).
func twoProportionP(x1, n1, x2, n2 int64) float64 {
	p1, p2 := float64(x1)/float64(n1), float64(x2)/float64(n2)
	pool := float64(x1+x2) / float64(n1+n2)
	se := math.Sqrt(pool * (1 - pool) * (1/float64(n1) + 1/float64(n2)))
	if se == 0 {
		return 1
	}
	return math.Erfc(math.Abs(p1-p2) / se / math.Sqrt2)
}

// getStatsCSV answers the same counters as rows for a spreadsheet:
// variant, channel, step, metric, count.
func (s *Server) getStatsCSV(c echo.Context) error {
	id, counters, err := s.counters(c)
	if err != nil {
		return err
	}
	w := csvWriter(c, id+"-stats.csv")
	_ = w.Write([]string{"variant", "channel", "step", "metric", "count"})
	for _, k := range counters {
		_ = w.Write([]string{cell(k.Variant), cell(k.Channel), cell(k.Step), cell(k.Metric), strconv.FormatInt(k.N, 10)})
	}
	w.Flush()
	return w.Error()
}

// An export must write exportRowsPerDeadline rows within exportStall.
const (
	exportRowsPerDeadline = 1000
	exportStall           = time.Minute
)

// getJourneysCSV streams a campaign's journeys as CSV.
func (s *Server) getJourneysCSV(c echo.Context) error {
	stored, err := s.campaign(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	w := csvWriter(c, stored.ID+"-journeys.csv")
	_ = w.Write([]string{"workflow_id", "customer_id", "version", "variant", "status", "current_step", "exit_reason", "started_at", "ended_at", "converted_at"})
	// A campaign of a million journeys takes longer to stream than the
	// server's write timeout allows a response: the export moves its
	// deadline on while the client keeps taking rows, and a client that
	// stalls is still cut off.
	rc := http.NewResponseController(c.Response())
	rows := 0
	err = s.Store.CampaignJourneys(c.Request().Context(), stored.ID, func(j store.Journey) error {
		if rows%exportRowsPerDeadline == 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(exportStall)) // unsupported only by test recorders
		}
		rows++
		return w.Write([]string{cell(j.WorkflowID), cell(j.CustomerID), strconv.Itoa(j.Version), cell(j.Variant), cell(j.Status), cell(j.CurrentStep),
			cell(j.ExitReason), stamp(&j.StartedAt), stamp(j.EndedAt), stamp(j.ConvertedAt)})
	})
	w.Flush()
	if err != nil {
		// The header is out: all that is left is to cut the body short.
		s.Logger.ErrorContext(c.Request().Context(), "journeys export cut short", "campaign_id", stored.ID, "error", err)
		return nil
	}
	return w.Error()
}

func stamp(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
