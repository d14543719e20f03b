package notify

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/jobenv"
)

// Facts are what a notice says: the CircleCI job's context and the figures
// the other guards wrote to the event log.
type Facts struct {
	Job      jobenv.Job
	Subject  string // the commit's subject line
	Mentions string // Slack markup, e.g. <!subteam^S0123|oncall>
	Now      time.Time

	Health   *HealthFacts
	Canary   *CanaryFacts
	Rollback *RollbackFacts
	// Failure is the message of the newest *_failed event that neither health
	// nor canary explains (another guard's own words).
	Failure string

	PostmortemURL   string
	IncidentChannel string // channel ID, linked as <#C...>
	IncidentStarted time.Time
}

// HealthFacts come from pmguard health's events.
type HealthFacts struct {
	Passed          bool
	Endpoints       int
	Failed          int
	FailingEndpoint []EndpointFact
}

// EndpointFact is one failing endpoint.
type EndpointFact struct {
	URL       string
	Status    int
	Expect    string
	LatencyMS float64
	Reason    string
}

// CanaryFacts come from pmguard canary's events.
type CanaryFacts struct {
	Verdict        string // passed, failed or inconclusive
	ErrorRate      *float64
	ErrorThreshold *float64
	Latencies      []LatencyFact
	Samples        int
	Message        string
}

// LatencyFact is one latency quantile and its threshold.
type LatencyFact struct {
	Quantile    string // p95
	MS          float64
	ThresholdMS *float64
}

// RollbackFacts come from pmguard rollback's events.
type RollbackFacts struct {
	State          string // initiated, completed, failed or skipped
	PipelineID     string
	PipelineNumber string
	PipelineURL    string
	Target         string
	Message        string
}

// factsFrom reads the figures of one incident (events of pipeline key; all
// events when key is empty) into f.
func factsFrom(f *Facts, evs []events.Event, key string) {
	var mine []events.Event
	for _, e := range evs {
		if key == "" || e.PipelineID == "" || e.PipelineID == key {
			mine = append(mine, e)
		}
	}
	sort.SliceStable(mine, func(i, j int) bool { return mine[i].Time.Before(mine[j].Time) })

	var healthStart time.Time
	for _, e := range mine {
		switch e.Event {
		case "health_started":
			healthStart = e.Time
		case "health_passed", "health_failed":
			h := &HealthFacts{Passed: e.Event == "health_passed", Endpoints: intFig(e.Figures, "endpoints"), Failed: intFig(e.Figures, "failed")}
			for _, ep := range mine {
				if ep.Event == "endpoint_failed" && !ep.Time.Before(healthStart) && !ep.Time.After(e.Time) {
					h.FailingEndpoint = append(h.FailingEndpoint, EndpointFact{
						URL: ep.Target, Status: intFig(ep.Figures, "status"), Expect: strFig(ep.Figures, "expect_status"),
						LatencyMS: floatFig(ep.Figures, "latency_ms"), Reason: ep.Message,
					})
				}
			}
			if len(h.FailingEndpoint) == 0 && !h.Passed {
				for _, u := range listFig(e.Figures, "failing_endpoints") {
					h.FailingEndpoint = append(h.FailingEndpoint, EndpointFact{URL: u})
				}
			}
			f.Health = h
		case "canary_passed", "canary_failed", "canary_inconclusive":
			f.Canary = canaryFacts(e)
		case "rollback_initiated", "rollback_completed", "rollback_failed", "rollback_skipped":
			r := &RollbackFacts{State: strings.TrimPrefix(e.Event, "rollback_"), Message: e.Message}
			if f.Rollback != nil { // keep the pipeline a later event does not repeat
				*r = *f.Rollback
				r.State, r.Message = strings.TrimPrefix(e.Event, "rollback_"), e.Message
			}
			// pmguard rollback writes rollback_*; the plain names are accepted
			// for events written by other tools.
			for _, k := range []string{"pipeline_id", "rollback_pipeline_id"} {
				setIf(&r.PipelineID, strFig(e.Figures, k))
			}
			for _, k := range []string{"pipeline_number", "rollback_pipeline_number"} {
				setIf(&r.PipelineNumber, strFig(e.Figures, k))
			}
			for _, k := range []string{"pipeline_url", "rollback_url"} {
				setIf(&r.PipelineURL, strFig(e.Figures, k))
			}
			for _, k := range []string{"target", "target_version"} {
				setIf(&r.Target, strFig(e.Figures, k))
			}
			setIf(&r.Target, e.Target)
			if e.Event == "rollback_skipped" && strFig(e.Figures, "reason") == "duplicate" {
				// Another job already started this rollback: it is running.
				r.State = "initiated"
			}
			f.Rollback = r
		case "notified":
			if boolFig(e.Figures, "parent") && (f.IncidentStarted.IsZero() || e.Time.Before(f.IncidentStarted)) {
				f.IncidentStarted = e.Time
			}
		case "incident_channel_created":
			f.IncidentChannel = strFig(e.Figures, "channel")
		default:
			if strings.HasSuffix(e.Event, "_failed") && e.Verb != "notify" && e.Event != "endpoint_failed" && e.Message != "" {
				f.Failure = e.Message
			}
		}
	}
	if f.Failure != "" && (f.Health != nil && !f.Health.Passed || f.Canary != nil && f.Canary.Verdict == "failed") {
		f.Failure = "" // already explained by the figures
	}
}

var quantileKey = regexp.MustCompile(`^p(\d{1,2}(?:\.\d+)?)_ms$`)

func canaryFacts(e events.Event) *CanaryFacts {
	c := &CanaryFacts{Verdict: strings.TrimPrefix(e.Event, "canary_"), Samples: intFig(e.Figures, "samples"), Message: e.Message}
	if v, ok := numFig(e.Figures, "error_rate"); ok {
		c.ErrorRate = &v
	}
	for _, k := range []string{"error_threshold", "threshold"} {
		if v, ok := numFig(e.Figures, k); ok && c.ErrorThreshold == nil {
			c.ErrorThreshold = &v
		}
	}
	if c.Message == "" {
		c.Message = strFig(e.Figures, "reason")
	}
	var thr *float64
	if v, ok := numFig(e.Figures, "latency_threshold_ms"); ok {
		thr = &v
	}
	thrQ := strFig(e.Figures, "latency_quantile") // e.g. p95; empty: the threshold applies to every quantile
	keys := make([]string, 0, len(e.Figures))
	for k := range e.Figures {
		if quantileKey.MatchString(k) {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return quantileOf(keys[i]) < quantileOf(keys[j]) })
	for _, k := range keys {
		v, _ := numFig(e.Figures, k)
		l := LatencyFact{Quantile: strings.TrimSuffix(k, "_ms"), MS: v}
		if thr != nil && (thrQ == "" || thrQ == l.Quantile) {
			l.ThresholdMS = thr
		}
		c.Latencies = append(c.Latencies, l)
	}
	return c
}

func quantileOf(k string) float64 {
	v, _ := strconv.ParseFloat(quantileKey.FindStringSubmatch(k)[1], 64)
	return v
}

func setIf(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

func numFig(f map[string]any, k string) (float64, bool) {
	switch v := f[k].(type) {
	case float64:
		return v, true
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case string:
		s := strings.TrimSpace(v)
		pct := strings.HasSuffix(s, "%")
		n, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
		if err != nil {
			return 0, false
		}
		if pct {
			n /= 100
		}
		return n, true
	}
	return 0, false
}

func floatFig(f map[string]any, k string) float64 { v, _ := numFig(f, k); return v }
func intFig(f map[string]any, k string) int       { v, _ := numFig(f, k); return int(math.Round(v)) }

func strFig(f map[string]any, k string) string {
	switch v := f[k].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case int:
		return strconv.Itoa(v)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

func boolFig(f map[string]any, k string) bool {
	b, _ := f[k].(bool)
	return b
}

func listFig(f map[string]any, k string) []string {
	var out []string
	switch v := f[k].(type) {
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
	case []string:
		out = v
	}
	return out
}

// Figures as people read them.

// pct formats a fraction as a percentage: 0.25 -> "25%", 0.0213 -> "2.13%".
func pct(v float64) string {
	return strconv.FormatFloat(math.Round(v*100*100)/100, 'f', -1, 64) + "%"
}

func millis(v float64) string {
	if v >= 100 {
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64) + " ms"
	}
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) + " ms"
}

// compare is the relation of a figure to its limit, escaped for mrkdwn.
func compare(v, limit float64) string {
	if v > limit {
		return "&gt;"
	}
	return "≤"
}

// failureLines are the figures that failed the deploy, one per line.
func (f *Facts) failureLines() []string {
	var out []string
	if c := f.Canary; c != nil && c.Verdict != "passed" {
		out = append(out, c.lines(true)...)
	}
	if h := f.Health; h != nil && !h.Passed {
		out = append(out, h.lines()...)
	}
	if f.Failure != "" {
		out = append(out, escapeText(f.Failure))
	}
	return out
}

func (c *CanaryFacts) lines(failing bool) []string {
	var out []string
	if c.ErrorRate != nil {
		s := "error rate " + pct(*c.ErrorRate)
		if c.ErrorThreshold != nil {
			s += " " + compare(*c.ErrorRate, *c.ErrorThreshold) + " " + pct(*c.ErrorThreshold)
		}
		if !failing || c.ErrorThreshold == nil || *c.ErrorRate > *c.ErrorThreshold {
			out = append(out, s)
		}
	}
	for _, l := range c.Latencies {
		s := l.Quantile + " " + millis(l.MS)
		if l.ThresholdMS != nil {
			s += " " + compare(l.MS, *l.ThresholdMS) + " " + millis(*l.ThresholdMS)
		}
		// A failing notice lists the quantiles over their threshold, or all
		// of them when none has one.
		if !failing || l.ThresholdMS == nil && c.ErrorThreshold == nil || l.ThresholdMS != nil && l.MS > *l.ThresholdMS {
			out = append(out, s)
		}
	}
	if len(out) == 0 && c.Message != "" {
		out = append(out, escapeText(c.Message))
	}
	if c.Verdict == "inconclusive" {
		out = append(out, "canary inconclusive"+samplesNote(c.Samples))
	} else if len(out) > 0 && c.Samples > 0 {
		out[len(out)-1] += samplesNote(c.Samples)
	}
	return out
}

func samplesNote(n int) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprintf(" (%s samples)", thousands(n))
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func (h *HealthFacts) lines() []string {
	var out []string
	for _, ep := range h.FailingEndpoint {
		s := "`" + escapeText(ep.URL) + "`"
		var parts []string
		if ep.Status > 0 && !strings.Contains(ep.Reason, fmt.Sprintf("status %d", ep.Status)) {
			p := fmt.Sprintf("status %d", ep.Status)
			if ep.Expect != "" {
				p += ", expected " + escapeText(ep.Expect)
			}
			parts = append(parts, p)
		}
		if ep.Reason != "" {
			parts = append(parts, escapeText(ep.Reason))
		}
		if len(parts) > 0 {
			s += ": " + strings.Join(parts, "; ")
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		out = append(out, fmt.Sprintf("%d of %d endpoint(s) unhealthy", h.Failed, h.Endpoints))
	}
	return out
}

// link formats <url|label>, or the label alone when url is not a usable URL.
func link(rawURL, label string) string {
	u := safeURL(rawURL)
	if u == "" {
		return label
	}
	return "<" + u + "|" + label + ">"
}

// safeURL returns an http(s) URL with the characters that end a Slack link
// (<, >, |) and spaces percent-encoded, or "" for anything else.
func safeURL(raw string) string {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return strings.NewReplacer("<", "%3C", ">", "%3E", "|", "%7C", " ", "%20").Replace(raw)
}

// commitURL is the commit's page for GitHub and Bitbucket projects.
func commitURL(j jobenv.Job) string {
	if j.SHA == "" || j.ProjectUsername == "" || j.ProjectRepo == "" {
		return ""
	}
	switch j.VCS {
	case "gh":
		return "https://github.com/" + j.ProjectUsername + "/" + j.ProjectRepo + "/commit/" + j.SHA
	case "bb":
		return "https://bitbucket.org/" + j.ProjectUsername + "/" + j.ProjectRepo + "/commits/" + j.SHA
	}
	return ""
}

func shortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// GitSubject returns a function reading the commit's subject with git, when
// the job has a checkout; it answers "" rather than failing.
func GitSubject(dir string) func(ctx context.Context, sha string) string {
	return func(ctx context.Context, sha string) string {
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		args := []string{"log", "-1", "--format=%s"}
		if sha != "" {
			args = append(args, sha, "--")
		}
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil && sha != "" {
			return "" // the checkout does not hold the job's commit: say nothing rather than the wrong subject
		}
		return strings.TrimSpace(string(out))
	}
}
