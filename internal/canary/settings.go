package canary

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/deploymarker"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/metricsource"
	"github.com/pmguard/pmguard/internal/probe"
	"github.com/pmguard/pmguard/internal/verb"
)

// Settings are pmguard canary's inputs: flags and PMGUARD_CANARY_* env vars.
type Settings struct {
	config.Shared
	config.Reports

	Source string `env:"SOURCE, default=probe" flag:"source" form:"one of \"probe\", \"prometheus\", \"datadog\"" usage:"where the canary's figures come from: probe (pmguard sends requests), prometheus or datadog"`

	Percentage config.Count `env:"PERCENTAGE, default=0" flag:"percentage" usage:"share of production traffic the canary serves, in percent (0: not stated); recorded in the report and events for the post-mortem"`

	// Probe.
	URL          config.URL       `env:"URL" flag:"url" usage:"probe: the canary URL to send requests to"`
	Rate         config.Rate      `env:"RATE, default=10" flag:"rate" usage:"probe: requests per second, sent on a fixed schedule whatever the responses"`
	Concurrency  config.Count     `env:"CONCURRENCY, default=50" flag:"concurrency" usage:"probe: requests in flight at most"`
	ExpectStatus config.StatusSet `env:"EXPECT_STATUS, default=2xx" orb:"expected_status" flag:"expect-status" usage:"probe: statuses that count as success; any other status is an error"`
	Timeout      config.Duration  `env:"TIMEOUT, default=5s" flag:"timeout" usage:"probe: time allowed for one request, body included, less than max_duration; a timeout is an error (metric sources: per query)"`
	Method       string           `env:"METHOD, default=GET" flag:"method" usage:"probe: HTTP method"`
	Headers      config.Lines     `env:"HEADERS" flag:"header" usage:"probe: a request header 'Name: value' (repeatable); ${VAR} in the value is read from the environment"`
	BaselineURL  config.URL       `env:"BASELINE_URL" flag:"baseline-url" usage:"probe: the stable version's URL, probed at the same rate for comparison"`
	// A path, read when the settings are checked: under --check-only a file
	// deploy_canary has not written yet is a note (see later).
	CAFile   string `env:"CA_FILE" flag:"ca-file" form:"the path of a PEM file of CA certificates" usage:"probe: PEM file of extra CA certificates to trust"`
	Insecure bool   `env:"INSECURE" flag:"insecure" usage:"probe: skip TLS certificate verification (not for production)"`

	// The judge.
	ErrorThreshold    config.Percent    `env:"ERROR_THRESHOLD, default=2%" flag:"error-threshold" form:"a percentage such as 2% or 0.02, above 0% and below 100%" usage:"fail a canary whose error rate is this or more"`
	HealthyErrorRate  config.OptPercent `env:"HEALTHY_ERROR_RATE" flag:"healthy-error-rate" form:"a percentage above 0% and below error_threshold, such as 1% or 0.01; empty for half of error_threshold" usage:"the error rate a healthy canary has, which it must be shown to be near to pass (default: half the error threshold)"`
	LatencyThreshold  config.Duration   `env:"LATENCY_THRESHOLD" flag:"latency-threshold" usage:"fail a canary whose latency percentile is above this (default: no latency check)"`
	LatencyPercentile string            `env:"LATENCY_PERCENTILE, default=p95" flag:"latency-percentile" form:"one of \"p50\", \"p90\", \"p95\", \"p99\"" usage:"the latency percentile held to the threshold"`
	MaxDuration       config.Duration   `env:"MAX_DURATION, default=10m" flag:"max-duration" usage:"stop after this long; undecided by then is inconclusive"`
	MinSamples        config.Count      `env:"MIN_SAMPLES, default=100" flag:"min-samples" usage:"requests needed before the canary can pass"`
	Interval          config.Duration   `env:"INTERVAL, default=30s" flag:"interval" usage:"metric sources: time between two queries (each reads the interval just ended)"`
	Alpha             config.Percent    `env:"ALPHA, default=1%" flag:"alpha" form:"a percentage such as 1% or 0.01, above 0% and below 50%" usage:"the false-rollback rate: chance of failing a canary at the healthy error rate"`
	Beta              config.Percent    `env:"BETA, default=5%" flag:"beta" form:"a percentage such as 5% or 0.05, above 0% and below 50%" usage:"the missed-regression rate: chance of passing a canary at the error threshold"`
	OnInconclusive    string            `env:"ON_INCONCLUSIVE, default=fail" flag:"on-inconclusive" form:"\"fail\", \"pass\" or \"hold\"" usage:"what an undecided analysis does (no traffic, no data, not decisive by max_duration): fail (roll back), pass, or hold (exit 0 at the current weight, leaving the decision to an approval job)"`
	SourceErrorLimit  config.Count      `env:"SOURCE_ERROR_LIMIT, default=3" flag:"source-error-limit" usage:"metric sources: consecutive failed reads after which the verdict is fail"`
	BaselineMargin    config.Margin     `env:"BASELINE_MARGIN, default=50%" flag:"baseline-margin" usage:"with a baseline: fail when the canary's error rate or latency is worse than the baseline's by more than this"`

	// The statistics: the latency test's hypotheses, and how runs of
	// errors or slow requests are counted.
	LatencyPassShare config.OptPercent `env:"LATENCY_PASS_SHARE" flag:"latency-pass-share" form:"a percentage above 0% and below 100%, such as 5% or 0.05; empty for the default" usage:"pass when at most this share of requests is slower than latency_threshold (default: 100% minus the percentile, 5% for p95: a canary exactly meeting it is healthy)"`
	LatencyFailShare config.OptPercent `env:"LATENCY_FAIL_SHARE" flag:"latency-fail-share" form:"a percentage above 0% and below 100%, such as 10% or 0.1; empty for the default" usage:"fail when this share of requests or more is slower than latency_threshold (default: twice latency_pass_share, at most halfway to 100%; 10% for p95)"`
	StallAllowance   config.Duration   `env:"STALL_ALLOWANCE, default=1s" flag:"stall-allowance" usage:"probe: a run of errors, or of slow requests, lasting up to this long is one stall or burst: 2 or more in a row count nothing towards a fail, and once towards a pass; 0 counts every request as independent"`

	// Prometheus.
	PrometheusURL      config.BaseURL `env:"PROMETHEUS_URL" flag:"prometheus-url" usage:"prometheus: the server's base URL"`
	CanarySelector     string         `env:"CANARY_SELECTOR" flag:"canary-selector" form:"label matchers such as {app=\"api\",track=\"canary\"} (prometheus) or a tag scope such as service:api,version:canary (datadog)" usage:"metric sources: selects the canary's series"`
	BaselineSelector   string         `env:"BASELINE_SELECTOR" flag:"baseline-selector" form:"like canary_selector" usage:"metric sources: selects the stable version's series, for comparison"`
	ErrorQuery         string         `env:"ERROR_QUERY" flag:"error-query" form:"a query using $__selector and $__window" usage:"override the failed-requests query (PromQL or Datadog)"`
	TotalQuery         string         `env:"TOTAL_QUERY" flag:"total-query" form:"a query using $__selector and $__window" usage:"override the all-requests query (PromQL or Datadog)"`
	LatencyQuery       string         `env:"LATENCY_QUERY" flag:"latency-query" form:"a query using $__selector, $__window and $__quantile (PromQL) or $__percentile (Datadog)" usage:"override the latency query; its result is in seconds"`
	PrometheusTokenEnv config.EnvName `env:"PROMETHEUS_TOKEN_ENV" flag:"prometheus-token-env" usage:"prometheus: name of the env var holding a bearer token (default: none)"`

	// Datadog.
	DDAPIKeyEnv config.EnvName `env:"DD_API_KEY_ENV, default=DD_API_KEY" flag:"dd-api-key-env" usage:"datadog: name of the env var holding the API key"`
	DDAppKeyEnv config.EnvName `env:"DD_APP_KEY_ENV, default=DD_APP_KEY" flag:"dd-app-key-env" usage:"datadog: name of the env var holding the application key"`
	DDSiteEnv   config.EnvName `env:"DD_SITE_ENV, default=DD_SITE" secret:"no" flag:"dd-site-env" usage:"datadog: name of the env var holding the site (datadoghq.com when empty)"`
	DDSite      string         `env:"DD_SITE" flag:"dd-site" form:"a Datadog site such as datadoghq.eu, or an http(s) URL of an API endpoint" usage:"datadog: the site, overriding the env var dd_site_env names"`

	// Progressive delivery: steps, shadow mode, hold, deploy markers.
	Steps            Steps           `env:"STEPS" flag:"steps" group:"Steps" usage:"traffic weights to step through, e.g. 10,50,100: set_weight sets each, then the step is judged; the first failing step sets the weight back to 0 (default: one analysis at the current share)"`
	SetWeight        string          `env:"SET_WEIGHT" flag:"set-weight" group:"Steps" form:"a shell command, e.g. ./shift.sh $PMGUARD_WEIGHT" usage:"steps: the command that sends PMGUARD_WEIGHT percent of traffic to the canary; run with sh -c before each step, and with 0 to roll back"`
	SetWeightTimeout config.Duration `env:"SET_WEIGHT_TIMEOUT, default=5m" flag:"set-weight-timeout" group:"Steps" usage:"steps: time allowed for one run of set_weight"`
	Pause            config.Duration `env:"PAUSE" flag:"pause" group:"Steps" usage:"steps: wait this long after a step passes before setting the next weight (default: none)"`
	Mode             string          `env:"MODE, default=enforce" flag:"mode" form:"\"enforce\" or \"shadow\"" usage:"enforce: a fail verdict fails the step and rolls back; shadow: judge, report and record the verdict, but never fail or roll back"`
	deploymarker.Settings
	// The release's success when the promotion comes after the verdict
	// (canary_deploy's deploy_full, a job behind an approval).
	DeployMarkerSuccess string `env:"DEPLOY_MARKER_SUCCESS, default=pass" flag:"deploy-marker-success" group:"Deploy markers" form:"\"pass\" or \"promotion\"" usage:"pass: a passing canary marks the release SUCCESS; promotion: it stays RUNNING until --promotion records how the promotion went (canary_deploy records it after deploy_full)"`
	Promotion           string `env:"PROMOTION" flag:"promotion" group:"Deploy markers" form:"\"succeeded\" or \"failed\"" usage:"judge nothing: record the promotion's outcome on the release a passing canary left RUNNING (deploy_marker_success promotion), found by deploy_name in the event log: succeeded marks it SUCCESS, failed FAILED"`
	PromotionAnyJob     bool   `env:"PROMOTION_ANY_JOB" flag:"promotion-any-job" group:"Deploy markers" usage:"with --promotion: the verdict may come from another job of the pipeline (a promotion job after an approval, with the canary job's event log attached); by default only this job's verdict counts, so a release another job left open is never closed by mistake"`

	// CheckOnly: canary_deploy checks its settings before it deploys.
	CheckOnly bool `env:"CHECK_ONLY" flag:"check-only" usage:"check every setting and exit, 0 or 2 naming the bad one, without judging anything, running set_weight or writing a deploy marker (canary_deploy runs this before deploy_canary)"`
}

// Options are a canary run: the validated settings, what was derived from
// them, and the run's dependencies.
type Options struct {
	Settings
	Target   string // what is judged, as shown (URL redacted, or selector)
	Criteria Criteria
	Header   http.Header // the probe's headers, ${VAR} expanded
	TLS      *tls.Config // the probe's; nil: system roots
	// Metrics is the metric system a prometheus or datadog source reads.
	Metrics metricsource.Source
	// Clock drives the analysis (metric intervals, max_duration); nil is
	// the wall clock. The probe always sends on the wall clock.
	Clock Clock
	// ProgressEvery is the time between progress lines; 0 is 5s.
	ProgressEvery time.Duration
	// KeepAliveEvery is the longest a wait stays silent (a pause, a metric
	// interval, set_weight); 0 is a minute.
	KeepAliveEvery time.Duration

	// SetWeightFunc, when set, replaces running set_weight (tests).
	SetWeightFunc func(ctx context.Context, step, weight int) error
	// RunCLI runs the circleci CLI for deploy markers; nil runs it as a
	// process.
	RunCLI deploymarker.Runner

	sourceErrors int    // failed reads of the source, over every step
	metricsName  string // "prometheus at https://..." for messages
	// pending: with --check-only, what the job has not provided yet (an
	// env var, a file) and the analysis step checks again.
	pending []string
	// passCostNoted: the start-up estimate was printed (once a run).
	passCostNoted bool
	d             *verb.Deps
	events        *events.Log
	runCtx        context.Context // Run's, for the event log (nil: none yet)
}

var percentiles = map[string]float64{"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99}

// New parses and validates pmguard canary's settings and builds the metric
// client and event log. Every bad input is found here, before any request.
func New(ctx context.Context, d *verb.Deps, args []string) (*Options, error) {
	// Metric queries retry twice within one interval; the judge counts the
	// reads that still fail against source_error_limit.
	return newWith(ctx, d, args, httpx.Options{
		Retries: 2,
		Log:     func(msg string) { fmt.Fprintln(d.Stderr, "pmguard canary: "+msg) },
	})
}

// newWith is New with the metric client's HTTP options (tests make the
// retries fast).
func newWith(ctx context.Context, d *verb.Deps, args []string, metricHTTP httpx.Options) (*Options, error) {
	o := &Options{d: d}
	set, err := d.Load(ctx, "canary", args, &o.Settings)
	if err == nil {
		err = o.validate(set, metricHTTP)
	}
	if err == nil {
		o.events, err = d.Events(o.EventsFile)
	}
	if err != nil {
		return nil, d.Redactor.Error(err)
	}
	return o, nil
}

func (o *Options) validate(set *config.Set, metricHTTP httpx.Options) error {
	s := &o.Settings
	s.Source = strings.ToLower(s.Source)
	s.OnInconclusive = strings.ToLower(s.OnInconclusive)
	s.DeployMarkerSuccess = strings.ToLower(strings.TrimSpace(s.DeployMarkerSuccess))
	s.Promotion = strings.ToLower(strings.TrimSpace(s.Promotion))
	switch {
	case s.DeployMarkerSuccess != "pass" && s.DeployMarkerSuccess != "promotion":
		return set.Invalid(&s.DeployMarkerSuccess, s.DeployMarkerSuccess, "unknown choice", "")
	case s.Promotion != "" && s.Promotion != "succeeded" && s.Promotion != "failed":
		return set.Invalid(&s.Promotion, s.Promotion, "unknown choice", "")
	case s.Promotion != "":
		// Only the deploy marker's settings and the event log matter:
		// nothing is judged.
		return s.Settings.Validate(set)
	}
	if err := o.validateCriteria(set); err != nil {
		return err
	}
	if err := o.checkSourceSettings(set); err != nil {
		return err
	}
	switch s.Source {
	case "probe":
		o.Criteria.Baseline = urlSet(s.BaselineURL)
		return o.validateProbe(set)
	case "prometheus", "datadog":
		o.Criteria.Baseline = s.BaselineSelector != ""
		return o.validateMetrics(set, metricHTTP)
	}
	return set.Invalid(&s.Source, s.Source, "unknown source", "")
}

// sourceSetting is a setting that only some sources read.
type sourceSetting struct {
	setting any
	param   string
	value   string
	sources string // the sources that read it
	// typo: given with another source it cannot mean anything, and the
	// source is most likely what is wrong (exit 2); otherwise the setting
	// is tuning left over from another source, ignored with a warning.
	typo bool
}

// checkSourceSettings refuses a setting of another source that says the
// source itself is likely wrong (a Prometheus URL with the probe, a URL to
// probe with Datadog), and warns of one that is merely ignored (a probe's
// rate with Prometheus).
func (o *Options) checkSourceSettings(set *config.Set) error {
	s := &o.Settings
	str := func(v fmt.Stringer) string { return v.String() }
	settings := []sourceSetting{
		{&s.PrometheusURL, "prometheus_url", str(s.PrometheusURL), "prometheus", true},
		{&s.PrometheusTokenEnv, "prometheus_token_env", string(s.PrometheusTokenEnv), "prometheus", true},
		{&s.DDSite, "dd_site", s.DDSite, "datadog", true},
		{&s.DDSiteEnv, "dd_site_env", string(s.DDSiteEnv), "datadog", true},
		{&s.DDAPIKeyEnv, "dd_api_key_env", string(s.DDAPIKeyEnv), "datadog", true},
		{&s.DDAppKeyEnv, "dd_app_key_env", string(s.DDAppKeyEnv), "datadog", true},
		{&s.CanarySelector, "canary_selector", s.CanarySelector, "prometheus or datadog", true},
		{&s.ErrorQuery, "error_query", s.ErrorQuery, "prometheus or datadog", true},
		{&s.TotalQuery, "total_query", s.TotalQuery, "prometheus or datadog", true},
		{&s.LatencyQuery, "latency_query", s.LatencyQuery, "prometheus or datadog", true},
		{&s.Interval, "interval", s.Interval.String(), "prometheus or datadog", false},
		{&s.SourceErrorLimit, "source_error_limit", fmt.Sprint(s.SourceErrorLimit), "prometheus or datadog", false},
		{&s.URL, "url", s.URL.String(), "probe", true},
		{&s.Rate, "rate", "", "probe", false},
		{&s.Concurrency, "concurrency", "", "probe", false},
		{&s.ExpectStatus, "expected_status", "", "probe", false},
		{&s.Method, "method", "", "probe", false},
		{&s.Headers, "headers", "", "probe", false},
		{&s.CAFile, "ca_file", "", "probe", false},
		{&s.Insecure, "insecure", "", "probe", false},
		{&s.StallAllowance, "stall_allowance", "", "probe", false},
	}
	for _, st := range settings {
		if strings.Contains(st.sources, s.Source) || !set.Given(st.setting) {
			continue
		}
		if !st.typo {
			set.Ignored(o.d.Stderr, st.setting, fmt.Sprintf("it is a setting of source %s, and the source is %s", st.sources, s.Source))
			continue
		}
		return set.Invalid(st.setting, st.value,
			fmt.Sprintf("%s is for source %s, and the source is %s: set source to the one meant, or leave %s empty", st.param, st.sources, s.Source, st.param),
			"empty unless source is "+st.sources)
	}
	if !urlSet(s.BaselineURL) && strings.TrimSpace(s.BaselineSelector) == "" && set.Given(&s.BaselineMargin) {
		set.Ignored(o.d.Stderr, &s.BaselineMargin, "it is the margin of the comparison with a baseline, and there is none (baseline_url or baseline_selector)")
	}
	return nil
}

func (o *Options) validateCriteria(set *config.Set) error {
	s := &o.Settings
	q, ok := percentiles[strings.ToLower(s.LatencyPercentile)]
	if !ok {
		return set.Invalid(&s.LatencyPercentile, s.LatencyPercentile, "unknown percentile", "")
	}
	c := Criteria{
		ErrorThreshold: float64(s.ErrorThreshold),
		HealthyRate:    float64(s.HealthyErrorRate),
		Latency:        s.LatencyThreshold.Duration,
		Quantile:       q,
		Alpha:          float64(s.Alpha),
		Beta:           float64(s.Beta),
		MinSamples:     int(s.MinSamples),
		Margin:         float64(s.BaselineMargin),
		PerRequest:     s.Source == "probe",

		LatencyPassShare: float64(s.LatencyPassShare),
		LatencyFailShare: float64(s.LatencyFailShare),
	}
	if c.PerRequest && s.StallAllowance.Duration > 0 {
		c.RunCap = int(math.Ceil(float64(s.Rate) * s.StallAllowance.Seconds()))
	}
	o.Criteria = c
	switch {
	case !(c.ErrorThreshold > 0 && c.ErrorThreshold < 1):
		return set.Invalid(&s.ErrorThreshold, config.Percent(c.ErrorThreshold).String(), "must be above 0% and below 100%", "")
	case s.HealthyErrorRate != 0 && c.HealthyRate >= c.ErrorThreshold:
		return set.Invalid(&s.HealthyErrorRate, config.Percent(c.HealthyRate).String(), "must be below error_threshold "+config.Percent(c.ErrorThreshold).String(), "")
	case !(c.Alpha > 0 && c.Alpha < 0.5):
		return set.Invalid(&s.Alpha, config.Percent(c.Alpha).String(), "must be above 0% and below 50%", "")
	case !(c.Beta > 0 && c.Beta < 0.5):
		return set.Invalid(&s.Beta, config.Percent(c.Beta).String(), "must be above 0% and below 50%", "")
	case s.MaxDuration.Duration <= 0:
		return set.Invalid(&s.MaxDuration, s.MaxDuration.String(), "must be more than 0", "")
	case c.LatencyPassShare >= 1:
		return set.Invalid(&s.LatencyPassShare, config.Percent(c.LatencyPassShare).String(), "must be below 100%", "")
	case c.LatencyFailShare >= 1:
		return set.Invalid(&s.LatencyFailShare, config.Percent(c.LatencyFailShare).String(), "must be below 100%", "")
	case c.Latency == 0 && s.LatencyPassShare != 0:
		return set.Invalid(&s.LatencyPassShare, config.Percent(c.LatencyPassShare).String(),
			"only the latency test uses it, and without latency_threshold there is none: set latency_threshold, or leave latency_pass_share empty", "")
	case c.Latency == 0 && s.LatencyFailShare != 0:
		return set.Invalid(&s.LatencyFailShare, config.Percent(c.LatencyFailShare).String(),
			"only the latency test uses it, and without latency_threshold there is none: set latency_threshold, or leave latency_fail_share empty", "")
	case c.Latency > 0 && latShareOrder(c):
		pass, fail := c.latencyShares()
		return set.Invalid(&s.LatencyFailShare, config.Percent(fail).String(), "must be above latency_pass_share "+config.Percent(pass).String(), "")
	case s.Percentage > 100:
		return set.Invalid(&s.Percentage, fmt.Sprint(s.Percentage), "more than 100", "a whole number from 0 to 100")
	case s.OnInconclusive != "fail" && s.OnInconclusive != "pass" && s.OnInconclusive != "hold":
		return set.Invalid(&s.OnInconclusive, s.OnInconclusive, "unknown choice", "")
	}
	return o.validateSteps(set)
}

// latShareOrder reports latency shares in the wrong order.
func latShareOrder(c Criteria) bool {
	pass, fail := c.latencyShares()
	return fail <= pass
}

func (o *Options) validateProbe(set *config.Set) error {
	s := &o.Settings
	switch {
	case !urlSet(s.URL):
		return set.Required(&s.URL, "the probe needs the canary's URL", "")
	case s.BaselineSelector != "":
		return set.Invalid(&s.BaselineSelector, s.BaselineSelector, "the probe compares with baseline_url; baseline_selector is for metric sources", "")
	case s.Timeout.Duration <= 0:
		return set.Invalid(&s.Timeout, s.Timeout.String(), "must be more than 0", "")
	case s.Timeout.Duration >= s.MaxDuration.Duration:
		// A request allowed to outlast the analysis never times out within
		// it: a canary that never answers would end as no traffic.
		return set.Invalid(&s.Timeout, s.Timeout.String(), fmt.Sprintf("must be less than max_duration %s, so that a request the canary does not answer times out, and counts as an error, within the analysis", s.MaxDuration), "a Go duration less than max_duration")
	case s.Concurrency < 1:
		return set.Invalid(&s.Concurrency, fmt.Sprint(s.Concurrency), "must be 1 or more", "a whole number, 1 or more")
	}
	o.Target = o.d.Redactor.URL(s.URL.String())
	urls := []*url.URL{s.URL.URL}
	if urlSet(s.BaselineURL) {
		urls = append(urls, s.BaselineURL.URL)
	}
	env := o.d.Env
	if o.CheckOnly {
		env = &laterEnv{Env: env, o: o}
	}
	req, err := probe.ParseRequest(set, &s.Method, &s.Headers, env, o.d.Redactor, urls...)
	if err != nil {
		return err
	}
	o.Header = req.Header
	s.CAFile = strings.TrimSpace(s.CAFile)
	if s.CAFile != "" {
		if _, err := os.Stat(s.CAFile); errors.Is(err, fs.ErrNotExist) {
			return o.later(set.Invalid(&s.CAFile, s.CAFile, "no such file", ""))
		}
	}
	if o.TLS, err = httpx.TLSConfig(s.CAFile, "", "", s.Insecure); err != nil {
		return set.Invalid(&s.CAFile, s.CAFile, err.Error(), "")
	}
	return nil
}

// later is err, bad input, unless this is --check-only: canary_deploy checks
// the settings before deploy_canary runs, and deploy_canary may be what
// exports an env var a setting names or writes a file it reads. Then the
// run notes it (the analysis step checks it again) and goes on.
func (o *Options) later(err error) error {
	if !o.CheckOnly {
		return err
	}
	o.pending = append(o.pending, err.Error())
	return nil
}

// laterEnv is the environment under --check-only: a variable a header
// names that is not set yet reads as a placeholder, and is noted.
type laterEnv struct {
	config.Env
	o *Options
}

func (e *laterEnv) Lookup(key string) (string, bool) {
	if v, ok := e.Env.Lookup(key); ok && v != "" {
		return v, ok
	}
	e.o.pending = append(e.o.pending, fmt.Sprintf("header: ${%s} is not set yet", key))
	return "set-later", true
}

func (o *Options) validateMetrics(set *config.Set, httpOpts httpx.Options) error {
	s := &o.Settings
	s.CanarySelector = strings.TrimSpace(s.CanarySelector)
	s.BaselineSelector = strings.TrimSpace(s.BaselineSelector)
	switch {
	case s.CanarySelector == "":
		return set.Required(&s.CanarySelector, "the "+s.Source+" source needs the canary's selector", "")
	case urlSet(s.BaselineURL):
		return set.Invalid(&s.BaselineURL, s.BaselineURL.String(), "baseline_url is for the probe; metric sources compare with baseline_selector", "")
	case s.Interval.Duration <= 0:
		return set.Invalid(&s.Interval, s.Interval.String(), "must be more than 0", "")
	case s.Interval.Duration < time.Second:
		return set.Invalid(&s.Interval, s.Interval.String(), "must be 1s or more (metric systems keep second resolution at best)", "")
	case s.SourceErrorLimit < 1:
		return set.Invalid(&s.SourceErrorLimit, fmt.Sprint(s.SourceErrorLimit), "must be 1 or more", "a whole number, 1 or more")
	}
	o.Target = s.CanarySelector
	httpOpts.Version, httpOpts.Redactor, httpOpts.Transport = o.d.Version, o.d.Redactor, o.d.Transport
	if s.Timeout.Duration > 0 {
		httpOpts.Timeout = s.Timeout.Duration
	}
	// A rate-limited read may wait for Retry-After, but not past half an
	// interval: a later read will have the figures anyway.
	limit := max(s.Interval.Duration/2, time.Second)
	if httpOpts.WaitMax == 0 || httpOpts.WaitMax > limit {
		httpOpts.WaitMax = limit
	}
	if httpOpts.MaxRetryAfter == 0 || httpOpts.MaxRetryAfter > limit {
		httpOpts.MaxRetryAfter = limit
	}
	var err error
	if s.Source == "prometheus" {
		err = o.prometheus(set, httpOpts)
	} else {
		err = o.datadog(set, httpOpts)
	}
	if err != nil {
		return err
	}
	o.metricsName = fmt.Sprint(o.Metrics)
	return nil
}

// checkSelectors checks the canary's and the baseline's selector with check.
func (o *Options) checkSelectors(set *config.Set, check func(string) error) error {
	for _, sel := range []*string{&o.CanarySelector, &o.BaselineSelector} {
		if *sel == "" {
			continue
		}
		if err := check(*sel); err != nil {
			return set.Invalid(sel, *sel, err.Error(), "")
		}
	}
	return nil
}

func (o *Options) prometheus(set *config.Set, httpOpts httpx.Options) error {
	s := &o.Settings
	if !urlSet(config.URL{URL: s.PrometheusURL.URL}) {
		return set.Required(&s.PrometheusURL, "the prometheus source needs the server's URL", "")
	}
	if err := o.checkSelectors(set, metricsource.CheckSelector); err != nil {
		return err
	}
	token := ""
	if s.PrometheusTokenEnv != "" {
		// d.Load registered the value with the redactor.
		if token = config.Get(o.d.Env, string(s.PrometheusTokenEnv)); token == "" {
			if err := o.later(set.Invalid(&s.PrometheusTokenEnv, string(s.PrometheusTokenEnv), "that env var is empty or unset", "")); err != nil {
				return err
			}
		}
	}
	prom, err := metricsource.NewPrometheus(metricsource.PrometheusOptions{
		URL: s.PrometheusURL.String(), Token: token, TokenEnv: string(s.PrometheusTokenEnv),
		Queries: metricsource.PromQueries{Errors: s.ErrorQuery, Total: s.TotalQuery, Latency: s.LatencyQuery},
		HTTP:    httpOpts,
	})
	if err != nil {
		return o.queryInvalid(set, err)
	}
	o.Metrics = prom
	return nil
}

func (o *Options) datadog(set *config.Set, httpOpts httpx.Options) error {
	s := &o.Settings
	if urlSet(config.URL{URL: s.PrometheusURL.URL}) {
		return set.Invalid(&s.PrometheusURL, s.PrometheusURL.String(), "prometheus_url is for source prometheus", "")
	}
	if err := o.checkSelectors(set, metricsource.CheckDatadogSelector); err != nil {
		return err
	}
	apiKey := config.Get(o.d.Env, string(s.DDAPIKeyEnv))
	appKey := config.Get(o.d.Env, string(s.DDAppKeyEnv))
	if apiKey == "" {
		if err := o.later(set.Invalid(&s.DDAPIKeyEnv, string(s.DDAPIKeyEnv), "that env var is empty or unset", "")); err != nil {
			return err
		}
	}
	if appKey == "" {
		if err := o.later(set.Invalid(&s.DDAppKeyEnv, string(s.DDAppKeyEnv), "that env var is empty or unset", "")); err != nil {
			return err
		}
	}
	if o.CheckOnly {
		// The client is built to check the site and the queries; a key
		// still to come is noted above.
		apiKey, appKey = cmp.Or(apiKey, "set-later"), cmp.Or(appKey, "set-later")
	}
	site := strings.TrimSpace(s.DDSite)
	if site == "" && s.DDSiteEnv != "" {
		site = strings.TrimSpace(config.Get(o.d.Env, string(s.DDSiteEnv)))
	}
	opts := metricsource.DatadogOptions{
		APIKey: apiKey, AppKey: appKey, APIKeyEnv: string(s.DDAPIKeyEnv), AppKeyEnv: string(s.DDAppKeyEnv),
		Queries: metricsource.DatadogQueries{Errors: s.ErrorQuery, Hits: s.TotalQuery, Latency: s.LatencyQuery},
		HTTP:    httpOpts,
	}
	// A URL names an API endpoint directly (a proxy, a regional gateway).
	if strings.HasPrefix(site, "http://") || strings.HasPrefix(site, "https://") {
		opts.BaseURL = site
	} else {
		opts.Site = site
	}
	dd, err := metricsource.NewDatadog(opts)
	if err != nil {
		return o.queryInvalid(set, err)
	}
	o.Metrics = dd
	return nil
}

// queryInvalid names the setting a metric client's option error is about.
func (o *Options) queryInvalid(set *config.Set, err error) error {
	s := &o.Settings
	var se *metricsource.InputError
	if errors.As(err, &se) {
		for _, q := range []*string{&s.ErrorQuery, &s.TotalQuery, &s.LatencyQuery} {
			if *q != "" && *q == se.Input {
				return set.Invalid(q, *q, se.Reason, "")
			}
		}
	}
	// Anything else is about where the source is: the keys were checked
	// before the client was built, so for Datadog it is the site (or the
	// env var it was read from).
	var field any = &s.PrometheusURL
	switch {
	case s.Source == "datadog" && strings.TrimSpace(s.DDSite) == "" && s.DDSiteEnv != "":
		field = &s.DDSiteEnv
	case s.Source == "datadog":
		field = &s.DDSite
	}
	return set.Invalid(field, "", err.Error(), "")
}

// urlSet reports whether a URL setting was given (the loader allocates
// empty ones).
func urlSet(u config.URL) bool { return u.URL != nil && u.Host != "" }
