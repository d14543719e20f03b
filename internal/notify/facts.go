package notify

import (
	"context"
	"fmt"
	"net/url"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/human"
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
	// CircleCIHost is the CircleCI web app's base URL, for links the job
	// environment does not give whole (the workflow's page).
	CircleCIHost string
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
	// Mode is "shadow" when the verdict was not enforced.
	Mode string
	// Steps are a progressive rollout's steps, in order (canary_step).
	Steps      []CanaryStepFact
	RolledBack bool
	// RollbackError says why pmguard could not set the weight back to 0.
	RollbackError string
	Held          bool
	// Step and Weight are the deciding step's (0 without steps).
	Step, Weight int
}

// CanaryStepFact is one step of a progressive rollout.
type CanaryStepFact struct {
	Step, Weight int
	Verdict      string // pass, fail or inconclusive
	ErrorRate    float64
	Threshold    float64
	Samples      int
	Latencies    []LatencyFact
	// DecidedBy is set_weight when the step could not be judged because
	// set_weight failed; Reason then says how.
	DecidedBy, Reason string
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
	// Schema says what the target's code cannot serve (the rollback's
	// schema check): rolling back the code will not restore service.
	Schema []string
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
	var steps []CanaryStepFact // of the canary run under way
	for _, e := range mine {
		switch e.Event {
		case events.HealthStarted:
			healthStart = e.Time
		case events.HealthPassed, events.HealthFailed:
			f.Health = healthFacts(e, mine, healthStart)
		case events.CanaryStarted:
			steps = nil
		case events.CanaryStep:
			steps = append(steps, canaryStepFact(e))
		case events.CanaryPassed, events.CanaryFailed, events.CanaryInconclusive:
			f.Canary = canaryFacts(e)
			f.Canary.Steps = steps
		case events.RollbackInitiated, events.RollbackCompleted, events.RollbackFailed, events.RollbackSkipped:
			f.Rollback = rollbackFacts(e, f.Rollback)
		case events.Notified:
			var n events.Notice
			e.Decode(&n)
			if n.Parent && (f.IncidentStarted.IsZero() || e.Time.Before(f.IncidentStarted)) {
				f.IncidentStarted = e.Time
			}
		case events.IncidentChannelCreated:
			var n events.Notice
			e.Decode(&n)
			f.IncidentChannel = n.Channel
		default:
			if strings.HasSuffix(e.Event, "_failed") && e.Verb != "notify" && e.Event != events.EndpointFailed && e.Message != "" {
				f.Failure = e.Message
			}
		}
	}
	if f.Failure != "" && (f.Health != nil && !f.Health.Passed || f.Canary != nil && f.Canary.Verdict == "failed") {
		f.Failure = "" // already explained by the figures
	}
}

// healthFacts are a health run's verdict with the endpoints that failed
// between its start and e.
func healthFacts(e events.Event, evs []events.Event, start time.Time) *HealthFacts {
	var run events.HealthRun
	e.Decode(&run)
	h := &HealthFacts{Passed: e.Event == events.HealthPassed, Endpoints: run.Endpoints, Failed: run.Failed}
	for _, ep := range evs {
		if ep.Event != events.EndpointFailed || ep.Time.Before(start) || ep.Time.After(e.Time) {
			continue
		}
		var fig events.HealthEndpoint
		ep.Decode(&fig)
		h.FailingEndpoint = append(h.FailingEndpoint, EndpointFact{
			URL: ep.Target, Status: fig.Status, Expect: fig.ExpectStatus, LatencyMS: fig.LatencyMS, Reason: ep.Message,
		})
	}
	if len(h.FailingEndpoint) == 0 && !h.Passed {
		for _, u := range run.FailingEndpoints {
			h.FailingEndpoint = append(h.FailingEndpoint, EndpointFact{URL: u})
		}
	}
	return h
}

// rollbackFacts are the rollback's state after e; what an earlier event
// said about the pipeline stays unless e says otherwise.
func rollbackFacts(e events.Event, before *RollbackFacts) *RollbackFacts {
	r := &RollbackFacts{}
	if before != nil {
		*r = *before
	}
	r.State, r.Message = strings.TrimPrefix(e.Event, "rollback_"), e.Message
	var fig events.Rollback
	e.Decode(&fig)
	setIf(&r.PipelineID, fig.RollbackPipelineID)
	if fig.RollbackPipelineNumber > 0 {
		r.PipelineNumber = strconv.Itoa(fig.RollbackPipelineNumber)
	}
	setIf(&r.PipelineURL, fig.RollbackURL)
	setIf(&r.Target, fig.TargetVersion)
	setIf(&r.Target, e.Target)
	if len(fig.SchemaFindings) > 0 {
		r.Schema = fig.SchemaFindings
	}
	if e.Event == events.RollbackSkipped && fig.Reason == "duplicate" {
		// Another job already started this rollback: it is running.
		r.State = "initiated"
	}
	return r
}

var quantileKey = regexp.MustCompile(`^p(\d{1,2}(?:\.\d+)?)_ms$`)

func canaryFacts(e events.Event) *CanaryFacts {
	var fig events.Canary
	e.Decode(&fig)
	c := &CanaryFacts{Verdict: strings.TrimPrefix(e.Event, "canary_"), Samples: fig.Samples, Message: orDefault(e.Message, fig.Reason),
		Mode: fig.Mode, RolledBack: fig.RolledBack, RollbackError: fig.RollbackError, Held: fig.Held, Step: fig.Step, Weight: int(fig.Weight)}
	if v, ok := e.Figures.Number("error_rate"); ok {
		c.ErrorRate = &v
	}
	if _, ok := e.Figures.Number("threshold"); ok || e.Figures["error_threshold"] != nil {
		c.ErrorThreshold = &fig.Threshold
	}
	var thr *float64
	if _, ok := e.Figures.Number("latency_threshold_ms"); ok {
		thr = &fig.LatencyThresholdMS
	}
	keys := make([]string, 0, len(e.Figures))
	for k := range e.Figures {
		if quantileKey.MatchString(k) {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return quantileOf(keys[i]) < quantileOf(keys[j]) })
	for _, k := range keys {
		v, _ := e.Figures.Number(k)
		l := LatencyFact{Quantile: strings.TrimSuffix(k, "_ms"), MS: v}
		// latency_quantile names the quantile the threshold is for; without
		// it the threshold applies to every quantile.
		if thr != nil && (fig.LatencyQuantile == "" || fig.LatencyQuantile == l.Quantile) {
			l.ThresholdMS = thr
		}
		c.Latencies = append(c.Latencies, l)
	}
	return c
}

func canaryStepFact(e events.Event) CanaryStepFact {
	var fig events.Canary
	e.Decode(&fig)
	c := canaryFacts(e)
	return CanaryStepFact{Step: fig.Step, Weight: int(fig.Weight), Verdict: fig.Verdict, ErrorRate: fig.ErrorRate,
		Threshold: fig.Threshold, Samples: fig.Samples, Latencies: c.Latencies, DecidedBy: fig.DecidedBy, Reason: fig.Reason}
}

// line is one step as people read it: "step 2 (50%): fail, error rate 4.1%
// > 2%, p95 180 ms (1,204 samples)".
func (s CanaryStepFact) line() string {
	if s.DecidedBy == "set_weight" {
		// Never judged: what set_weight said is all there is.
		return fmt.Sprintf("step %d (%d%%): %s", s.Step, s.Weight, orDefault(escapeText(s.Reason), "set_weight failed"))
	}
	out := fmt.Sprintf("step %d (%d%%): %s, error rate %s", s.Step, s.Weight, s.Verdict, human.Percent(s.ErrorRate))
	if s.Threshold > 0 {
		out += " " + compare(s.ErrorRate, s.Threshold) + " " + human.Percent(s.Threshold)
	}
	for _, l := range s.Latencies {
		out += ", " + l.Quantile + " " + human.Millis(l.MS)
		if l.ThresholdMS != nil {
			out += " " + compare(l.MS, *l.ThresholdMS) + " " + human.Millis(*l.ThresholdMS)
		}
	}
	return out + samplesNote(s.Samples)
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

// Figures as people read them.

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
		s := "error rate " + human.Percent(*c.ErrorRate)
		if c.ErrorThreshold != nil {
			s += " " + compare(*c.ErrorRate, *c.ErrorThreshold) + " " + human.Percent(*c.ErrorThreshold)
		}
		if !failing || c.ErrorThreshold == nil || *c.ErrorRate > *c.ErrorThreshold {
			out = append(out, s)
		}
	}
	for _, l := range c.Latencies {
		s := l.Quantile + " " + human.Millis(l.MS)
		if l.ThresholdMS != nil {
			s += " " + compare(l.MS, *l.ThresholdMS) + " " + human.Millis(*l.ThresholdMS)
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
	if len(c.Steps) > 0 {
		// A rollout is read step by step; the verdict's own figures are the
		// deciding step's, already among them.
		out = out[:0]
		for _, s := range c.Steps {
			out = append(out, s.line())
		}
		if c.RolledBack {
			out = append(out, "weight set back to 0%")
		}
	}
	switch {
	case c.Mode == "shadow":
		out = append(out, "shadow mode: the verdict was not enforced, nothing was rolled back")
	case c.Held:
		out = append(out, "held: the decision is left to the approval job")
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
