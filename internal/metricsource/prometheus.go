package metricsource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/httpx"
)

// Default PromQL templates for the conventional metric names
// (http_requests_total with a code label, http_request_duration_seconds
// histogram). Placeholders are described at PlaceholderSelector.
const (
	DefaultPromErrors  = `sum(increase(http_requests_total{$__selector,code=~"5.."}[$__window]))`
	DefaultPromTotal   = `sum(increase(http_requests_total{$__selector}[$__window]))`
	DefaultPromLatency = `histogram_quantile($__quantile, sum by (le) (rate(http_request_duration_seconds_bucket{$__selector}[$__window])))`
)

// PromQueries are PromQL templates; an empty field uses its default.
type PromQueries struct {
	Errors  string // failed requests in the window
	Total   string // all requests in the window
	Latency string // the quantile of request latency in seconds
	Buckets string // requests per histogram bucket, by le (DefaultPromBuckets)
}

// Check validates every override (see CheckPromQL).
func (q PromQueries) Check() error {
	return checkOverrides(CheckPromQL, q.Errors, q.Total, q.Latency, q.Buckets)
}

func (q PromQueries) withDefaults() PromQueries {
	orDefault(&q.Errors, DefaultPromErrors)
	orDefault(&q.Total, DefaultPromTotal)
	orDefault(&q.Latency, DefaultPromLatency)
	orDefault(&q.Buckets, DefaultPromBuckets)
	return q
}

// PrometheusOptions configures a Prometheus client.
type PrometheusOptions struct {
	// URL is the server's base URL, e.g. https://prom.internal or
	// http://host:9090/prometheus behind a path prefix.
	URL string
	// Token is a bearer token's value ("" sends none). TokenEnv names the env
	// var it came from, for messages; the value is never logged.
	Token    string
	TokenEnv string
	Queries  PromQueries
	// HTTP configures the client (timeouts, retries, log); its Redactor
	// learns the token.
	HTTP httpx.Options
	// MaxBody caps a response body; 0 means 32 MiB.
	MaxBody int64
}

// Prometheus reads figures through the Prometheus HTTP API.
type Prometheus struct {
	base     string
	token    string
	tokenEnv string
	queries  PromQueries
	http     *httpx.Client
	maxBody  int64
}

// NewPrometheus checks the options (URL, overrides) without any network call;
// its errors are bad input.
func NewPrometheus(o PrometheusOptions) (*Prometheus, error) {
	if o.HTTP.Redactor == nil {
		o.HTTP.Redactor = httpx.NewRedactor()
	}
	u, err := httpURL("prometheus URL", strings.TrimSpace(o.URL), "want an http(s) URL such as https://prom.internal", o.HTTP.Redactor)
	if err != nil {
		return nil, err
	}
	if err := o.Queries.Check(); err != nil {
		return nil, err
	}
	o.HTTP.Redactor.Add(o.Token)
	if o.MaxBody <= 0 {
		o.MaxBody = maxAnswer
	}
	return &Prometheus{
		base:     strings.TrimRight(u.String(), "/"),
		token:    o.Token,
		tokenEnv: o.TokenEnv,
		queries:  o.Queries.withDefaults(),
		http:     httpx.New(o.HTTP),
		maxBody:  o.MaxBody,
	}, nil
}

// String names the server for messages.
func (p *Prometheus) String() string { return "prometheus at " + httpx.RedactURL(p.base) }

// Queries returns the templates in use (defaults filled in).
func (p *Prometheus) Queries() PromQueries { return p.queries }

// Sample is one series' value at one instant.
type Sample struct {
	Metric map[string]string
	Time   time.Time
	Value  float64
}

// Point is one value of a range query.
type Point struct {
	Time  time.Time
	Value float64
}

// Series is one series of a range query.
type Series struct {
	Metric map[string]string
	Points []Point
}

// Counts implements Source with the Errors and Total queries. When the total
// has series but the errors query has none (no 5xx was ever recorded, so the
// labelled counter does not exist), errors are zero, not missing.
func (p *Prometheus) Counts(ctx context.Context, selector string, w Window) (Counts, error) {
	vars, err := p.vars(selector, w, 0)
	if err != nil {
		return Counts{}, err
	}
	total, err := p.Scalar(ctx, expand(p.queries.Total, vars), w.End)
	if err != nil {
		return Counts{}, err
	}
	errs, err := p.Scalar(ctx, expand(p.queries.Errors, vars), w.End)
	if errors.Is(err, ErrNoData) {
		errs, err = 0, nil
	}
	if err != nil {
		return Counts{}, err
	}
	return Counts{Errors: nanZero(errs), Total: nanZero(total)}, nil
}

// Latency implements Source with the Latency query. NaN (histogram_quantile
// over a window without requests) is ErrNoData.
func (p *Prometheus) Latency(ctx context.Context, selector string, q float64, w Window) (time.Duration, error) {
	if err := CheckQuantile(q); err != nil {
		return 0, err
	}
	vars, err := p.vars(selector, w, q)
	if err != nil {
		return 0, err
	}
	query := expand(p.queries.Latency, vars)
	v, err := p.Scalar(ctx, query, w.End)
	if err != nil {
		return 0, err
	}
	if math.IsNaN(v) {
		return 0, &NoDataError{Source: "prometheus", Query: query, Reason: "no requests in the window (the quantile is NaN)"}
	}
	return latency("prometheus", v, query)
}

func (p *Prometheus) vars(selector string, w Window, q float64) (map[string]string, error) {
	m, err := promMatchers(selector)
	if err != nil {
		return nil, err
	}
	win, err := promDuration(w.Length)
	if err != nil {
		return nil, err
	}
	return map[string]string{PlaceholderSelector: m, PlaceholderWindow: win, PlaceholderQuantile: formatQuantile(q)}, nil
}

func nanZero(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}

// Scalar runs an instant query that must yield one value: a scalar or a
// one-series vector. No series is ErrNoData; several is an error asking for
// an aggregation.
func (p *Prometheus) Scalar(ctx context.Context, query string, at time.Time) (float64, error) {
	samples, err := p.Query(ctx, query, at)
	if err != nil {
		return 0, err
	}
	if len(samples) > 1 {
		return 0, &ShapeError{Source: "prometheus", Query: query, Reason: fmt.Sprintf("query returned %d series where one value was expected: aggregate it, e.g. with sum()", len(samples))}
	}
	return samples[0].Value, nil
}

// Query runs an instant query at time at (zero: the server's now). An empty
// result is a *NoDataError (errors.Is ErrNoData).
func (p *Prometheus) Query(ctx context.Context, query string, at time.Time) ([]Sample, error) {
	form := url.Values{"query": {query}}
	if !at.IsZero() {
		form.Set("time", promTime(at))
	}
	data, err := p.call(ctx, "/api/v1/query", form, query)
	if err != nil {
		return nil, err
	}
	var res struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, fmt.Errorf("prometheus: unreadable query result: %v", err)
	}
	var out []Sample
	switch res.ResultType {
	case "scalar":
		var v [2]json.RawMessage
		if err := json.Unmarshal(res.Result, &v); err != nil {
			return nil, fmt.Errorf("prometheus: unreadable scalar: %v", err)
		}
		pt, err := parsePoint(v)
		if err != nil {
			return nil, err
		}
		out = []Sample{{Time: pt.Time, Value: pt.Value}}
	case "vector":
		var vec []struct {
			Metric map[string]string  `json:"metric"`
			Value  [2]json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(res.Result, &vec); err != nil {
			return nil, fmt.Errorf("prometheus: unreadable vector: %v", err)
		}
		for _, s := range vec {
			if s.Value[0] == nil {
				continue // a native-histogram sample: no float value to read
			}
			pt, err := parsePoint(s.Value)
			if err != nil {
				return nil, err
			}
			out = append(out, Sample{Metric: s.Metric, Time: pt.Time, Value: pt.Value})
		}
	default:
		return nil, &ShapeError{Source: "prometheus", Query: query, Reason: fmt.Sprintf("instant query gave a %q result, want a vector or scalar", res.ResultType)}
	}
	if len(out) == 0 {
		return nil, &NoDataError{Source: "prometheus", Query: query, Reason: "no series matched"}
	}
	return out, nil
}

// QueryRange runs a range query. An empty result is ErrNoData.
func (p *Prometheus) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]Series, error) {
	if step <= 0 || !end.After(start) {
		return nil, fmt.Errorf("prometheus: range query needs start < end and a positive step")
	}
	form := url.Values{
		"query": {query},
		"start": {promTime(start)},
		"end":   {promTime(end)},
		"step":  {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)},
	}
	data, err := p.call(ctx, "/api/v1/query_range", form, query)
	if err != nil {
		return nil, err
	}
	var res struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string    `json:"metric"`
			Values [][2]json.RawMessage `json:"values"`
		} `json:"result"`
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, fmt.Errorf("prometheus: unreadable range result: %v", err)
	}
	if res.ResultType != "matrix" {
		return nil, &ShapeError{Source: "prometheus", Query: query, Reason: fmt.Sprintf("range query gave a %q result, want a matrix", res.ResultType)}
	}
	var out []Series
	for _, r := range res.Result {
		s := Series{Metric: r.Metric}
		for _, v := range r.Values {
			pt, err := parsePoint(v)
			if err != nil {
				return nil, err
			}
			s.Points = append(s.Points, pt)
		}
		if len(s.Points) > 0 {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, &NoDataError{Source: "prometheus", Query: query, Reason: "no series matched"}
	}
	return out, nil
}

// call sends one API request and returns the "data" member of a success
// envelope, or a typed error.
func (p *Prometheus) call(ctx context.Context, path string, form url.Values, query string) (json.RawMessage, error) {
	enc := form.Encode()
	var req *http.Request
	var err error
	// Long queries go in a POST form so no proxy truncates the URL.
	if len(enc) > 4000 {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, p.base+path, strings.NewReader(enc))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, p.base+path+"?"+enc, nil)
	}
	if err != nil {
		return nil, p.http.Redactor().Error(fmt.Errorf("prometheus: %v", err))
	}
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	resp, body, err := fetch(p.http, p, req, p.maxBody)
	if err != nil {
		return nil, err
	}
	var env struct {
		Status    string          `json:"status"`
		Data      json.RawMessage `json:"data"`
		ErrorType string          `json:"errorType"`
		Error     string          `json:"error"`
	}
	jsonErr := json.Unmarshal(body, &env)
	red := p.http.Redactor()
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		msg := env.Error
		if jsonErr != nil || msg == "" {
			msg = string(body)
		}
		hint := "the server refused the request; set a bearer token through the token env var setting"
		if p.token != "" {
			hint = "check the bearer token"
			if p.tokenEnv != "" {
				hint += " in $" + p.tokenEnv
			}
		}
		return nil, &AuthError{Source: "prometheus", Status: resp.StatusCode, Hint: hint, Message: quote(red, msg)}
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		msg := env.Error
		if jsonErr != nil || msg == "" {
			msg = string(body)
		}
		wait, asked := httpx.RetryAfter(resp.Header, time.Now())
		return nil, &QueryError{Source: "prometheus", Status: resp.StatusCode, Type: "rate_limited", Message: quote(red, msg), Query: query, RetryAfter: wait, HasRetryAfter: asked}
	}
	if jsonErr != nil || env.Status == "" {
		return nil, &QueryError{Source: "prometheus", Status: resp.StatusCode, Message: "not a Prometheus API response: " + quote(red, string(body)), Query: query}
	}
	if env.Status != "success" {
		return nil, &QueryError{Source: "prometheus", Status: resp.StatusCode, Type: env.ErrorType, Message: quote(red, env.Error), Query: query}
	}
	if resp.StatusCode/100 != 2 {
		return nil, &QueryError{Source: "prometheus", Status: resp.StatusCode, Message: "HTTP " + resp.Status + " with a success body", Query: query}
	}
	return env.Data, nil
}

// promTime writes t as Unix seconds with millisecond precision, the
// resolution Prometheus stores.
func promTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}

// parsePoint reads [unix_seconds, "value"]; the value is a string so NaN and
// ±Inf survive JSON.
func parsePoint(v [2]json.RawMessage) (Point, error) {
	var ts float64
	var s string
	if err := json.Unmarshal(v[0], &ts); err != nil {
		return Point{}, fmt.Errorf("prometheus: unreadable timestamp %s", v[0])
	}
	if err := json.Unmarshal(v[1], &s); err != nil {
		return Point{}, fmt.Errorf("prometheus: unreadable value %s", v[1])
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return Point{}, fmt.Errorf("prometheus: unreadable value %q", s)
	}
	return Point{Time: time.UnixMilli(int64(math.Round(ts * 1000))), Value: f}, nil
}
