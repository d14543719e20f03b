package canary

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/metricsource"
)

// Settings are pmguard canary's inputs: flags and PMGUARD_CANARY_* env vars.
type Settings struct {
	config.Shared
	config.Reports

	Source string `env:"SOURCE, default=probe" flag:"source" form:"one of \"probe\", \"prometheus\", \"datadog\"" usage:"where the canary's figures come from: probe (pmguard sends requests), prometheus or datadog"`

	Percentage config.Count `env:"PERCENTAGE, default=0" flag:"percentage" usage:"share of production traffic the canary serves, in percent (0: not stated); recorded in the report and events for the post-mortem"`

	// Probe.
	URL          config.URL       `env:"URL" flag:"url" usage:"probe: the canary URL to send requests to"`
	Rate         Rate             `env:"RATE, default=10" flag:"rate" usage:"probe: requests per second, sent on a fixed schedule whatever the responses"`
	Concurrency  config.Count     `env:"CONCURRENCY, default=50" flag:"concurrency" usage:"probe: requests in flight at most"`
	ExpectStatus config.StatusSet `env:"EXPECT_STATUS, default=2xx" flag:"expect-status" usage:"probe: statuses that count as success; any other status is an error"`
	Timeout      config.Duration  `env:"TIMEOUT, default=5s" flag:"timeout" usage:"probe: time allowed for one request, body included; a timeout is an error (metric sources: per query)"`
	Method       string           `env:"METHOD, default=GET" flag:"method" usage:"probe: HTTP method"`
	Headers      config.Lines     `env:"HEADERS" flag:"header" usage:"probe: a request header 'Name: value' (repeatable); ${VAR} in the value is read from the environment"`
	BaselineURL  config.URL       `env:"BASELINE_URL" flag:"baseline-url" usage:"probe: the stable version's URL, probed at the same rate for comparison"`
	CAFile       config.File      `env:"CA_FILE" flag:"ca-file" usage:"probe: PEM file of extra CA certificates to trust"`
	Insecure     bool             `env:"INSECURE" flag:"insecure" usage:"probe: skip TLS certificate verification (not for production)"`

	// The judge.
	ErrorThreshold    config.Percent  `env:"ERROR_THRESHOLD, default=2%" flag:"error-threshold" usage:"fail a canary whose error rate is this or more"`
	HealthyErrorRate  OptPercent      `env:"HEALTHY_ERROR_RATE" flag:"healthy-error-rate" usage:"the error rate a healthy canary has, which it must be shown to be near to pass (default: half the error threshold)"`
	LatencyThreshold  config.Duration `env:"LATENCY_THRESHOLD" flag:"latency-threshold" usage:"fail a canary whose latency percentile is above this (default: no latency check)"`
	LatencyPercentile string          `env:"LATENCY_PERCENTILE, default=p95" flag:"latency-percentile" form:"one of \"p50\", \"p90\", \"p95\", \"p99\"" usage:"the latency percentile held to the threshold"`
	MaxDuration       config.Duration `env:"MAX_DURATION, default=10m" flag:"max-duration" usage:"stop after this long; undecided by then is inconclusive"`
	MinSamples        config.Count    `env:"MIN_SAMPLES, default=100" flag:"min-samples" usage:"requests needed before the canary can pass"`
	Interval          config.Duration `env:"INTERVAL, default=30s" flag:"interval" usage:"metric sources: time between two queries (each reads the interval just ended)"`
	Alpha             config.Percent  `env:"ALPHA, default=1%" flag:"alpha" usage:"the false-rollback rate: chance of failing a canary at the healthy error rate"`
	Beta              config.Percent  `env:"BETA, default=5%" flag:"beta" usage:"the missed-regression rate: chance of passing a canary at the error threshold"`
	OnInconclusive    string          `env:"ON_INCONCLUSIVE, default=fail" flag:"on-inconclusive" form:"\"fail\" or \"pass\"" usage:"the exit status when the analysis cannot decide (no traffic, no data, not decisive by max_duration)"`
	SourceErrorLimit  config.Count    `env:"SOURCE_ERROR_LIMIT, default=3" flag:"source-error-limit" usage:"metric sources: consecutive failed reads after which the verdict is fail"`
	BaselineMargin    Margin          `env:"BASELINE_MARGIN, default=50%" flag:"baseline-margin" usage:"with a baseline: fail when the canary's error rate or latency is worse than the baseline's by more than this"`

	// Prometheus.
	PrometheusURL      config.URL     `env:"PROMETHEUS_URL" flag:"prometheus-url" usage:"prometheus: the server's base URL"`
	CanarySelector     string         `env:"CANARY_SELECTOR" flag:"canary-selector" form:"label matchers such as {app=\"api\",track=\"canary\"} (prometheus) or a tag scope such as service:api,version:canary (datadog)" usage:"metric sources: selects the canary's series"`
	BaselineSelector   string         `env:"BASELINE_SELECTOR" flag:"baseline-selector" form:"like canary_selector" usage:"metric sources: selects the stable version's series, for comparison"`
	ErrorQuery         string         `env:"ERROR_QUERY" flag:"error-query" form:"a query using $__selector and $__window" usage:"override the failed-requests query (PromQL or Datadog)"`
	TotalQuery         string         `env:"TOTAL_QUERY" flag:"total-query" form:"a query using $__selector and $__window" usage:"override the all-requests query (PromQL or Datadog)"`
	LatencyQuery       string         `env:"LATENCY_QUERY" flag:"latency-query" form:"a query using $__selector, $__window and $__quantile (PromQL) or $__percentile (Datadog)" usage:"override the latency query; its result is in seconds"`
	PrometheusTokenEnv config.EnvName `env:"PROMETHEUS_TOKEN_ENV" flag:"prometheus-token-env" usage:"prometheus: name of the env var holding a bearer token (default: none)"`

	// Datadog.
	DDAPIKeyEnv config.EnvName `env:"DD_API_KEY_ENV, default=DD_API_KEY" flag:"dd-api-key-env" usage:"datadog: name of the env var holding the API key"`
	DDAppKeyEnv config.EnvName `env:"DD_APP_KEY_ENV, default=DD_APP_KEY" flag:"dd-app-key-env" usage:"datadog: name of the env var holding the application key"`
	DDSiteEnv   config.EnvName `env:"DD_SITE_ENV, default=DD_SITE" flag:"dd-site-env" usage:"datadog: name of the env var holding the site (datadoghq.com when empty)"`
	DDSite      string         `env:"DD_SITE" flag:"dd-site" form:"a Datadog site such as datadoghq.eu, or an http(s) URL of an API endpoint" usage:"datadog: the site, overriding the env var dd_site_env names"`
}

// Rate is requests per second: "10", "10/s", "600/m".
type Rate float64

func (r *Rate) EnvDecode(_ context.Context, v string) error {
	v = strings.TrimSpace(v)
	per := 1.0
	if n, unit, ok := strings.Cut(v, "/"); ok {
		switch strings.TrimSpace(unit) {
		case "s":
		case "m", "min":
			per = 60
		default:
			return &config.ValueError{Msg: "unknown unit"}
		}
		v = strings.TrimSpace(n)
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f != f {
		return &config.ValueError{Msg: "not a rate"}
	}
	f /= per
	if f <= 0 || f > 100000 {
		return &config.ValueError{Msg: "out of range"}
	}
	*r = Rate(f)
	return nil
}

func (Rate) Form() string {
	return "requests per second such as 10, 10/s or 600/m, above 0 and at most 100000/s"
}

// OptPercent is a Percent that may be left empty (zero).
type OptPercent float64

func (o *OptPercent) EnvDecode(ctx context.Context, v string) error {
	if strings.TrimSpace(v) == "" {
		*o = 0
		return nil
	}
	var p config.Percent
	if err := p.EnvDecode(ctx, v); err != nil {
		return err
	}
	*o = OptPercent(p)
	return nil
}

func (OptPercent) Form() string { return config.Percent(0).Form() }

// Margin is a relative margin, "50%" or "0.5"; unlike a Percent it may
// exceed 100% ("200%": three times as bad).
type Margin float64

func (m *Margin) EnvDecode(_ context.Context, v string) error {
	v = strings.TrimSpace(v)
	pct := strings.HasSuffix(v, "%")
	f, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(v, "%")), 64)
	if err != nil || f != f {
		return &config.ValueError{Msg: "not a percentage"}
	}
	if pct {
		f /= 100
	}
	if f <= 0 || f > 100 {
		return &config.ValueError{Msg: "out of range"}
	}
	*m = Margin(f)
	return nil
}

func (Margin) Form() string {
	return "a relative margin above 0 such as 50% or 0.5 (200% means three times as bad)"
}

// Plan is validated settings, ready to run.
type Plan struct {
	Source         string // probe, prometheus, datadog
	Target         string // what is judged, as shown (URL redacted, or selector)
	Criteria       Criteria
	MaxDuration    time.Duration
	Interval       time.Duration // metric sources
	OnInconclusive string
	ErrorLimit     int
	Percentage     int // of production traffic, as stated (0: not stated)

	// Probe.
	URL, BaselineURL string
	Rate             float64
	Concurrency      int
	Expect           config.StatusSet
	Timeout          time.Duration
	Method           string
	Header           http.Header
	Insecure         bool
	CAFile           string

	// Metric sources.
	Metrics          metricsource.Source
	MetricsName      string // "prometheus at https://..." for messages
	CanarySelector   string
	BaselineSelector string

	// Secrets are values read from the environment that must never be shown.
	Secrets []string
}

var percentiles = map[string]float64{"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99}

// Validate checks the settings without touching the network and returns the
// plan. Errors name the setting, its env var and the accepted form (exit 2).
func Validate(s *Settings, set *config.Set, env config.Env, httpOpts httpx.Options) (*Plan, error) {
	p := &Plan{
		Source:         strings.ToLower(strings.TrimSpace(s.Source)),
		MaxDuration:    s.MaxDuration.Duration,
		Interval:       s.Interval.Duration,
		OnInconclusive: strings.ToLower(strings.TrimSpace(s.OnInconclusive)),
		ErrorLimit:     int(s.SourceErrorLimit),
		Percentage:     int(s.Percentage),
		Rate:           float64(s.Rate),
		Concurrency:    int(s.Concurrency),
		Expect:         s.ExpectStatus,
		Timeout:        s.Timeout.Duration,
		Method:         strings.ToUpper(strings.TrimSpace(s.Method)),
		Header:         http.Header{},
		Insecure:       s.Insecure,
		CAFile:         string(s.CAFile),
	}
	q, ok := percentiles[strings.ToLower(strings.TrimSpace(s.LatencyPercentile))]
	if !ok {
		return nil, set.Invalid("LatencyPercentile", s.LatencyPercentile, "unknown percentile", "")
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
		PerRequest:     p.Source == "probe",
	}
	if !(c.ErrorThreshold > 0 && c.ErrorThreshold < 1) {
		return nil, set.Invalid("ErrorThreshold", config.Percent(c.ErrorThreshold).String(), "must be above 0% and below 100%", "a percentage such as 2% or 0.02, above 0% and below 100%")
	}
	if s.HealthyErrorRate != 0 && c.HealthyRate >= c.ErrorThreshold {
		return nil, set.Invalid("HealthyErrorRate", config.Percent(c.HealthyRate).String(), "must be below error_threshold "+config.Percent(c.ErrorThreshold).String(), "")
	}
	if !(c.Alpha > 0 && c.Alpha < 0.5) {
		return nil, set.Invalid("Alpha", config.Percent(c.Alpha).String(), "must be above 0% and below 50%", "a percentage such as 1% or 0.01, above 0% and below 50%")
	}
	if !(c.Beta > 0 && c.Beta < 0.5) {
		return nil, set.Invalid("Beta", config.Percent(c.Beta).String(), "must be above 0% and below 50%", "a percentage such as 5% or 0.05, above 0% and below 50%")
	}
	if p.MaxDuration <= 0 {
		return nil, set.Invalid("MaxDuration", s.MaxDuration.String(), "must be more than 0", "")
	}
	if p.Percentage > 100 {
		return nil, set.Invalid("Percentage", fmt.Sprint(p.Percentage), "more than 100", "a whole number from 0 to 100")
	}
	if p.OnInconclusive != "fail" && p.OnInconclusive != "pass" {
		return nil, set.Invalid("OnInconclusive", s.OnInconclusive, "unknown choice", "")
	}

	switch p.Source {
	case "probe":
		if err := validateProbe(s, set, env, p); err != nil {
			return nil, err
		}
		c.Baseline = p.BaselineURL != ""
	case "prometheus", "datadog":
		if err := validateMetrics(s, set, env, p, httpOpts); err != nil {
			return nil, err
		}
		c.Baseline = p.BaselineSelector != ""
	default:
		return nil, set.Invalid("Source", s.Source, "unknown source", "")
	}
	p.Criteria = c
	return p, nil
}

func validateProbe(s *Settings, set *config.Set, env config.Env, p *Plan) error {
	if !urlSet(s.URL) {
		return set.Invalid("URL", "", "the probe needs the canary's URL", "")
	}
	p.URL = s.URL.String()
	p.Target = httpx.RedactURL(p.URL)
	if urlSet(s.BaselineURL) {
		p.BaselineURL = s.BaselineURL.String()
	}
	if s.BaselineSelector != "" {
		return set.Invalid("BaselineSelector", s.BaselineSelector, "the probe compares with baseline_url; baseline_selector is for metric sources", "")
	}
	if p.Timeout <= 0 {
		return set.Invalid("Timeout", s.Timeout.String(), "must be more than 0", "")
	}
	if p.Concurrency < 1 {
		return set.Invalid("Concurrency", fmt.Sprint(p.Concurrency), "must be 1 or more", "a whole number, 1 or more")
	}
	if !httpx.IsToken(p.Method) {
		return set.Invalid("Method", s.Method, "not an HTTP method", "GET, HEAD, POST or another HTTP method token")
	}
	for _, h := range s.Headers {
		name, value, ok := strings.Cut(h, ":")
		name = strings.TrimSpace(name)
		if !ok || !httpx.IsToken(name) {
			// The value may hold a secret: show only the name.
			return set.Invalid("Headers", name, "not a 'Name: value' header", "'Name: value', one per line; the value may use ${ENV_VAR}")
		}
		expanded, used := config.ExpandEnv(strings.TrimSpace(value), env)
		p.Secrets = append(p.Secrets, used...)
		p.Header.Add(name, expanded)
	}
	if s.URL.User != nil {
		if pw, ok := s.URL.User.Password(); ok {
			p.Secrets = append(p.Secrets, pw)
		}
	}
	return nil
}

func validateMetrics(s *Settings, set *config.Set, env config.Env, p *Plan, httpOpts httpx.Options) error {
	if strings.TrimSpace(s.CanarySelector) == "" {
		return set.Invalid("CanarySelector", "", "the "+p.Source+" source needs the canary's selector", "")
	}
	if urlSet(s.BaselineURL) {
		return set.Invalid("BaselineURL", s.BaselineURL.String(), "baseline_url is for the probe; metric sources compare with baseline_selector", "")
	}
	if p.Interval <= 0 {
		return set.Invalid("Interval", s.Interval.String(), "must be more than 0", "")
	}
	if p.Interval < time.Second {
		return set.Invalid("Interval", s.Interval.String(), "must be 1s or more (metric systems keep second resolution at best)", "")
	}
	if p.ErrorLimit < 1 {
		return set.Invalid("SourceErrorLimit", fmt.Sprint(p.ErrorLimit), "must be 1 or more", "a whole number, 1 or more")
	}
	p.CanarySelector = strings.TrimSpace(s.CanarySelector)
	p.BaselineSelector = strings.TrimSpace(s.BaselineSelector)
	p.Target = p.CanarySelector
	if p.Timeout > 0 {
		httpOpts.Timeout = p.Timeout
	}
	// A rate-limited read may wait for Retry-After, but not past half an
	// interval: a later read will have the figures anyway.
	if limit := max(p.Interval/2, time.Second); httpOpts.WaitMax == 0 || httpOpts.WaitMax > limit {
		httpOpts.WaitMax = limit
	}
	switch p.Source {
	case "prometheus":
		if !urlSet(s.PrometheusURL) {
			return set.Invalid("PrometheusURL", "", "the prometheus source needs the server's URL", "")
		}
		for _, sel := range []struct{ field, v string }{{"CanarySelector", p.CanarySelector}, {"BaselineSelector", p.BaselineSelector}} {
			if sel.v == "" {
				continue
			}
			if err := metricsource.CheckSelector(sel.v); err != nil {
				return set.Invalid(sel.field, sel.v, err.Error(), "")
			}
		}
		token := ""
		if s.PrometheusTokenEnv != "" {
			token = config.Get(env, string(s.PrometheusTokenEnv))
			if token == "" {
				return set.Invalid("PrometheusTokenEnv", string(s.PrometheusTokenEnv), "that env var is empty or unset", "")
			}
			p.Secrets = append(p.Secrets, token)
		}
		if s.PrometheusURL.User != nil {
			if pw, ok := s.PrometheusURL.User.Password(); ok {
				p.Secrets = append(p.Secrets, pw)
			}
		}
		prom, err := metricsource.NewPrometheus(metricsource.PrometheusOptions{
			URL: s.PrometheusURL.String(), Token: token, TokenEnv: string(s.PrometheusTokenEnv),
			Queries: metricsource.PromQueries{Errors: s.ErrorQuery, Total: s.TotalQuery, Latency: s.LatencyQuery},
			HTTP:    httpOpts,
		})
		if err != nil {
			return queryInvalid(set, err, s)
		}
		p.Metrics, p.MetricsName = prom, prom.String()
	case "datadog":
		if urlSet(s.PrometheusURL) {
			return set.Invalid("PrometheusURL", s.PrometheusURL.String(), "prometheus_url is for source prometheus", "")
		}
		for _, sel := range []struct{ field, v string }{{"CanarySelector", p.CanarySelector}, {"BaselineSelector", p.BaselineSelector}} {
			if sel.v == "" {
				continue
			}
			if err := metricsource.CheckDatadogSelector(sel.v); err != nil {
				return set.Invalid(sel.field, sel.v, err.Error(), "")
			}
		}
		apiKey := config.Get(env, string(s.DDAPIKeyEnv))
		appKey := config.Get(env, string(s.DDAppKeyEnv))
		if apiKey == "" {
			return set.Invalid("DDAPIKeyEnv", string(s.DDAPIKeyEnv), "that env var is empty or unset", "")
		}
		if appKey == "" {
			return set.Invalid("DDAppKeyEnv", string(s.DDAppKeyEnv), "that env var is empty or unset", "")
		}
		p.Secrets = append(p.Secrets, apiKey, appKey)
		site := strings.TrimSpace(s.DDSite)
		if site == "" && s.DDSiteEnv != "" {
			site = strings.TrimSpace(config.Get(env, string(s.DDSiteEnv)))
		}
		o := metricsource.DatadogOptions{
			APIKey: apiKey, AppKey: appKey, APIKeyEnv: string(s.DDAPIKeyEnv), AppKeyEnv: string(s.DDAppKeyEnv),
			Queries: metricsource.DatadogQueries{Errors: s.ErrorQuery, Hits: s.TotalQuery, Latency: s.LatencyQuery},
			HTTP:    httpOpts,
		}
		// A URL names an API endpoint directly (a proxy, a regional gateway).
		if strings.HasPrefix(site, "http://") || strings.HasPrefix(site, "https://") {
			o.BaseURL = site
		} else {
			o.Site = site
		}
		dd, err := metricsource.NewDatadog(o)
		if err != nil {
			return queryInvalid(set, err, s)
		}
		p.Metrics, p.MetricsName = dd, dd.String()
	}
	return nil
}

// queryInvalid names the setting a metric client's option error is about.
func queryInvalid(set *config.Set, err error, s *Settings) error {
	var se *metricsource.InputError
	if errors.As(err, &se) {
		for _, f := range []struct{ name, v string }{{"ErrorQuery", s.ErrorQuery}, {"TotalQuery", s.TotalQuery}, {"LatencyQuery", s.LatencyQuery}} {
			if f.v != "" && f.v == se.Input {
				return set.Invalid(f.name, f.v, se.Reason, "")
			}
		}
	}
	field := "PrometheusURL"
	switch {
	case s.Source == "datadog" && strings.Contains(err.Error(), "site"):
		field = "DDSite"
	case s.Source == "datadog":
		field = "DDAPIKeyEnv"
	}
	return set.Invalid(field, "", err.Error(), "")
}

// urlSet reports whether a URL setting was given (the loader allocates
// empty ones).
func urlSet(u config.URL) bool { return u.URL != nil && u.Host != "" }
