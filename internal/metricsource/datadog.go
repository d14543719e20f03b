package metricsource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/httpx"
)

// Default Datadog queries, on the APM trace metrics of an http.request
// operation. Placeholders are described at PlaceholderSelector.
const (
	DefaultDatadogErrors  = `sum:trace.http.request.errors{$__selector}.as_count()`
	DefaultDatadogHits    = `sum:trace.http.request.hits{$__selector}.as_count()`
	DefaultDatadogLatency = `$__percentile:trace.http.request{$__selector}`
	DefaultDatadogSite    = "datadoghq.com"
)

// DatadogQueries are Datadog metric query templates; an empty field uses its
// default.
type DatadogQueries struct {
	Errors  string // failed requests; points are summed over the window
	Hits    string // all requests; points are summed over the window
	Latency string // a latency in seconds; the highest point in the window is read
}

// Check validates every override (see CheckDatadogQuery).
func (q DatadogQueries) Check() error {
	return checkOverrides(CheckDatadogQuery, q.Errors, q.Hits, q.Latency)
}

func (q DatadogQueries) withDefaults() DatadogQueries {
	orDefault(&q.Errors, DefaultDatadogErrors)
	orDefault(&q.Hits, DefaultDatadogHits)
	orDefault(&q.Latency, DefaultDatadogLatency)
	return q
}

// DatadogOptions configures a Datadog client.
type DatadogOptions struct {
	// Site is the Datadog site, e.g. datadoghq.com (default), datadoghq.eu,
	// us3.datadoghq.com; requests go to https://api.<site>.
	Site string
	// BaseURL overrides the API base URL (a stand-in in tests, a proxy).
	BaseURL string
	// APIKey and AppKey are the key values; APIKeyEnv and AppKeyEnv name the
	// env vars they came from (default DD_API_KEY, DD_APP_KEY), for messages.
	APIKey, AppKey       string
	APIKeyEnv, AppKeyEnv string
	Queries              DatadogQueries
	// HTTP configures the client; its Redactor learns both keys, and a 429's
	// X-RateLimit-Reset is waited like Retry-After (httpx caps the wait).
	HTTP httpx.Options
	// Now is the clock for windows with a zero End; nil means time.Now.
	Now func() time.Time
}

// Datadog reads figures through the Datadog metrics query API (v1).
type Datadog struct {
	base           string
	apiKey, appKey string
	apiEnv, appEnv string
	queries        DatadogQueries
	http           *httpx.Client
	now            func() time.Time
}

// NewDatadog checks the options without any network call; its errors are
// bad input.
func NewDatadog(o DatadogOptions) (*Datadog, error) {
	if o.HTTP.Redactor == nil {
		o.HTTP.Redactor = httpx.NewRedactor()
	}
	var base string
	var err error
	if b := strings.TrimSpace(o.BaseURL); b != "" {
		base, err = datadogURL(b, o.HTTP.Redactor)
	} else {
		base, err = datadogSiteBase(o.Site)
	}
	if err != nil {
		return nil, err
	}
	if o.APIKeyEnv == "" {
		o.APIKeyEnv = "DD_API_KEY"
	}
	if o.AppKeyEnv == "" {
		o.AppKeyEnv = "DD_APP_KEY"
	}
	if o.APIKey == "" || o.AppKey == "" {
		return nil, &InputError{What: "datadog keys", Input: "$" + o.APIKeyEnv + ", $" + o.AppKeyEnv, Pos: -1, Reason: "both must be set: an API key and an application key"}
	}
	if err := o.Queries.Check(); err != nil {
		return nil, err
	}
	o.HTTP.Redactor.Add(o.APIKey, o.AppKey)
	o.HTTP.RetryAfter = DatadogRetryAfter
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Datadog{
		base:    base,
		apiKey:  o.APIKey,
		appKey:  o.AppKey,
		apiEnv:  o.APIKeyEnv,
		appEnv:  o.AppKeyEnv,
		queries: o.Queries.withDefaults(),
		http:    httpx.New(o.HTTP),
		now:     o.Now,
	}, nil
}

// checkSite accepts a bare host name such as datadoghq.eu.
func checkSite(site string) error {
	ok := site != "" && !strings.HasPrefix(site, ".") && !strings.HasSuffix(site, ".") && strings.Contains(site, ".")
	for _, r := range site {
		ok = ok && (r == '.' || r == '-' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	}
	if !ok {
		return &InputError{What: "datadog site", Input: httpx.RedactURL(site), Pos: -1, Reason: "want a site host name such as datadoghq.com, datadoghq.eu or us5.datadoghq.com"}
	}
	return nil
}

// String names the API for messages.
func (d *Datadog) String() string { return "datadog at " + httpx.RedactURL(d.base) }

// Queries returns the templates in use (defaults filled in).
func (d *Datadog) Queries() DatadogQueries { return d.queries }

// DatadogSeries is one series of a query response. A nil Value is a gap.
type DatadogSeries struct {
	Metric     string
	Scope      string
	Expression string
	Points     []DatadogPoint
}

// DatadogPoint is one [timestamp_ms, value] pair.
type DatadogPoint struct {
	Time  time.Time
	Value *float64
}

// Counts implements Source: the errors and hits queries, each summed over
// every point of every series in the window. Hits with series but an errors
// query without any (no error was ever tagged) count zero errors.
func (d *Datadog) Counts(ctx context.Context, selector string, w Window) (Counts, error) {
	vars, from, to, err := d.vars(selector, w, 0)
	if err != nil {
		return Counts{}, err
	}
	hits, err := d.Query(ctx, expand(d.queries.Hits, vars), from, to)
	if err != nil {
		return Counts{}, err
	}
	total, ok := sumPoints(hits)
	if !ok {
		return Counts{}, &NoDataError{Source: "datadog", Query: expand(d.queries.Hits, vars), Reason: "only empty points"}
	}
	errSeries, err := d.Query(ctx, expand(d.queries.Errors, vars), from, to)
	if err != nil && !errors.Is(err, ErrNoData) {
		return Counts{}, err
	}
	errs, _ := sumPoints(errSeries)
	return Counts{Errors: errs, Total: total}, nil
}

// Latency implements Source: the highest point of the latency query in the
// window, in seconds (a conservative reading when Datadog rolls the window
// up into several points).
func (d *Datadog) Latency(ctx context.Context, selector string, q float64, w Window) (time.Duration, error) {
	if err := CheckQuantile(q); err != nil {
		return 0, err
	}
	vars, from, to, err := d.vars(selector, w, q)
	if err != nil {
		return 0, err
	}
	query := expand(d.queries.Latency, vars)
	series, err := d.Query(ctx, query, from, to)
	if err != nil {
		return 0, err
	}
	vs := values(series)
	if len(vs) == 0 {
		return 0, &NoDataError{Source: "datadog", Query: query, Reason: "only empty points"}
	}
	return latency("datadog", slices.Max(vs), query)
}

func (d *Datadog) vars(selector string, w Window, q float64) (map[string]string, time.Time, time.Time, error) {
	scope, err := datadogScope(selector)
	if err != nil {
		return nil, time.Time{}, time.Time{}, err
	}
	if err := CheckWindow(w.Length); err != nil {
		return nil, time.Time{}, time.Time{}, err
	}
	to := w.End
	if to.IsZero() {
		to = d.now()
	}
	vars := map[string]string{
		PlaceholderSelector: scope,
		PlaceholderWindow:   strconv.FormatInt(int64(w.Length/time.Second), 10),
	}
	if q > 0 {
		p, err := datadogPercentile(q)
		if err != nil && strings.Contains(d.queries.Latency, PlaceholderPercentile) {
			return nil, time.Time{}, time.Time{}, err
		}
		vars[PlaceholderPercentile] = p
	}
	return vars, to.Add(-w.Length), to, nil
}

// values are the points of every series that hold a number.
func values(series []DatadogSeries) []float64 {
	var vs []float64
	for _, s := range series {
		for _, p := range s.Points {
			if p.Value != nil && !math.IsNaN(*p.Value) {
				vs = append(vs, *p.Value)
			}
		}
	}
	return vs
}

func sumPoints(series []DatadogSeries) (float64, bool) {
	vs := values(series)
	sum := 0.0
	for _, v := range vs {
		sum += v
	}
	return sum, len(vs) > 0
}

// Query runs a metrics query over [from, to] (whole seconds). No series is a
// *NoDataError (errors.Is ErrNoData).
func (d *Datadog) Query(ctx context.Context, query string, from, to time.Time) ([]DatadogSeries, error) {
	q := url.Values{
		"from":  {strconv.FormatInt(from.Unix(), 10)},
		"to":    {strconv.FormatInt(to.Unix(), 10)},
		"query": {query},
	}
	red := d.http.Redactor()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.base+"/api/v1/query?"+q.Encode(), nil)
	if err != nil {
		return nil, red.Error(fmt.Errorf("datadog: %v", err))
	}
	req.Header.Set("DD-API-KEY", d.apiKey)
	req.Header.Set("DD-APPLICATION-KEY", d.appKey)
	resp, body, err := fetch(d.http, d, req, maxAnswer)
	if err != nil {
		return nil, err
	}
	var r struct {
		Status string   `json:"status"`
		Error  string   `json:"error"`
		Errors []string `json:"errors"`
		Series []struct {
			Metric     string        `json:"metric"`
			Scope      string        `json:"scope"`
			Expression string        `json:"expression"`
			Pointlist  [][2]*float64 `json:"pointlist"`
		} `json:"series"`
	}
	jsonErr := json.Unmarshal(body, &r)
	msg := r.Error
	if len(r.Errors) > 0 {
		msg = strings.Join(r.Errors, "; ")
	}
	if jsonErr != nil || msg == "" && resp.StatusCode/100 != 2 {
		msg = string(body)
	}
	msg = quote(red, msg)
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, &AuthError{Source: "datadog", Status: resp.StatusCode, Message: msg,
			Hint: fmt.Sprintf("check %s/%s (the API key must be valid for this site and the application key needs the timeseries_query permission)", d.apiEnv, d.appEnv)}
	case resp.StatusCode == http.StatusTooManyRequests:
		wait, asked := DatadogRetryAfter(resp, time.Now())
		return nil, &QueryError{Source: "datadog", Status: resp.StatusCode, Type: "rate_limited", Message: msg, Query: query, RetryAfter: wait, HasRetryAfter: asked}
	case resp.StatusCode/100 != 2:
		return nil, &QueryError{Source: "datadog", Status: resp.StatusCode, Message: msg, Query: query}
	case jsonErr != nil:
		return nil, &QueryError{Source: "datadog", Status: resp.StatusCode, Message: "not a Datadog query response: " + msg, Query: query}
	case r.Status != "" && r.Status != "ok":
		return nil, &QueryError{Source: "datadog", Status: resp.StatusCode, Type: r.Status, Message: msg, Query: query}
	case r.Status == "" && r.Series == nil:
		// Datadog answers a query that matched nothing with "status": "ok"
		// and "series": []. A 200 with neither (null, {}, another API's
		// object) is a page that is not Datadog's, not an absence of data.
		return nil, &QueryError{Source: "datadog", Status: resp.StatusCode, Message: "not a Datadog query response (no status, no series): " + msg, Query: query}
	}
	var out []DatadogSeries
	for _, s := range r.Series {
		ds := DatadogSeries{Metric: s.Metric, Scope: s.Scope, Expression: s.Expression}
		for _, p := range s.Pointlist {
			if p[0] == nil {
				continue
			}
			ds.Points = append(ds.Points, DatadogPoint{Time: time.UnixMilli(int64(*p[0])), Value: p[1]})
		}
		out = append(out, ds)
	}
	if len(out) == 0 {
		return nil, &NoDataError{Source: "datadog", Query: query, Reason: "no series matched"}
	}
	return out, nil
}

// DatadogRetryAfter is how every Datadog client reads a 429's wait:
// Retry-After when given, else Datadog's X-RateLimit-Reset (seconds until
// the limit resets), so the retry waits for the reset instead of guessing.
func DatadogRetryAfter(resp *http.Response, now time.Time) (time.Duration, bool) {
	if d, ok := httpx.RetryAfter(resp.Header, now); ok {
		return d, true
	}
	if resp.StatusCode != http.StatusTooManyRequests {
		return 0, false
	}
	s, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("X-RateLimit-Reset")))
	if err != nil || s < 0 {
		return 0, false
	}
	return min(time.Duration(s), httpx.MaxAsked/time.Second) * time.Second, true
}

// DatadogAPIBase is the API base URL for a site (datadoghq.eu, the default
// when empty) or an http(s) URL given directly (a proxy, a stand-in): the
// one reading of a Datadog site for every Datadog client. r learns the
// URL's credentials.
func DatadogAPIBase(siteOrURL string, r *httpx.Redactor) (string, error) {
	v := strings.TrimSpace(siteOrURL)
	if strings.HasPrefix(v, "http://") || strings.HasPrefix(v, "https://") {
		return datadogURL(v, r)
	}
	return datadogSiteBase(v)
}

// datadogURL reads an API base URL given directly.
func datadogURL(raw string, r *httpx.Redactor) (string, error) {
	u, err := httpURL("datadog API URL", raw, "want an http(s) URL", r)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// datadogSiteBase is a site's API base URL (DefaultDatadogSite when empty).
func datadogSiteBase(site string) (string, error) {
	site = strings.TrimSpace(site)
	if site == "" {
		site = DefaultDatadogSite
	}
	site = strings.TrimPrefix(site, "app.")
	if err := checkSite(site); err != nil {
		return "", err
	}
	return "https://api." + site, nil
}
