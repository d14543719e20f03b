// Package metricsource reads request counts and latency percentiles from metric
// systems: Prometheus (HTTP API) and Datadog (metrics query API). It only
// fetches figures; deciding what they mean is the caller's business.
//
// Every call goes through internal/httpx (bounded retries on 429/5xx, secrets
// redacted from errors). Failures are typed so a caller can tell a wrong query
// (*QueryError, shown verbatim), a wrong selector (ErrNoData), bad credentials
// (ErrUnauthorized) and an unreachable or slow server (any other error, with
// context.DeadlineExceeded in its chain when the caller's deadline passed).
package metricsource

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/pmguard/pmguard/internal/httpx"
)

// Window is the span a figure covers: Length ending at End. A zero End means
// "now" (for Prometheus the server's clock, so client skew does not matter).
type Window struct {
	End    time.Time
	Length time.Duration
}

// Counts are the requests and the failed requests seen in a window. They are
// floats because Prometheus's increase() extrapolates.
type Counts struct {
	Errors float64
	Total  float64
}

// Source is what a canary analysis needs from a metric system; *Prometheus
// and *Datadog implement it.
type Source interface {
	// Counts returns errors and total requests for the selector in w. No
	// matching series at all is ErrNoData; series with no traffic give zeros.
	Counts(ctx context.Context, selector string, w Window) (Counts, error)
	// Latency returns the q-quantile (0 < q < 1) of request latency. No
	// series, or no requests in w, is ErrNoData.
	Latency(ctx context.Context, selector string, q float64, w Window) (time.Duration, error)
}

var (
	_ Source = (*Prometheus)(nil)
	_ Source = (*Datadog)(nil)
)

// ErrNoData reports a query that matched no series (or only empty ones).
// Check with errors.Is; the error itself is a *NoDataError naming the query.
var ErrNoData = errors.New("no data")

// ErrUnauthorized reports credentials the metric system refused (HTTP 401 or
// 403). Check with errors.Is; the error itself is an *AuthError.
var ErrUnauthorized = errors.New("unauthorized")

// NoDataError is a query that returned nothing to read.
type NoDataError struct {
	Source string // "prometheus" or "datadog"
	Query  string
	Reason string // why there is nothing, e.g. "no series matched"
}

func (e *NoDataError) Error() string {
	return fmt.Sprintf("%s: %s for query %s", e.Source, e.Reason, e.Query)
}

// Is makes errors.Is(err, ErrNoData) true.
func (e *NoDataError) Is(target error) bool { return target == ErrNoData }

// QueryError is an error the metric system itself returned for a query. For
// Prometheus, Type and Message are the response's errorType and error fields,
// verbatim (e.g. "bad_data" and a PromQL parse error); for Datadog, Message
// holds the "error" field or the "errors" list. Secrets are redacted.
type QueryError struct {
	Source  string
	Status  int // HTTP status
	Type    string
	Message string
	Query   string
	// RetryAfter is the wait a 429 asked for, when it said (pmguard's
	// retries, each at most httpx.MaxRetryAfter, are spent by then).
	RetryAfter    time.Duration
	HasRetryAfter bool
}

func (e *QueryError) Error() string {
	typ := ""
	if e.Type != "" {
		typ = ", " + e.Type
	}
	if e.Status == http.StatusTooManyRequests {
		wait := ""
		if e.HasRetryAfter {
			wait = fmt.Sprintf("; it asks to wait %s", httpx.WaitText(e.RetryAfter))
		}
		return fmt.Sprintf("%s rate limited the query (HTTP 429%s)%s: %s; query: %s", e.Source, typ, wait, e.Message, e.Query)
	}
	return fmt.Sprintf("%s rejected the query (HTTP %d%s): %s; query: %s", e.Source, e.Status, typ, e.Message, e.Query)
}

// ShapeError is a query the server ran whose result has the wrong shape
// for its use (several series where one value is needed, a range vector):
// the query must change, so asking again cannot help.
type ShapeError struct {
	Source, Query, Reason string
}

func (e *ShapeError) Error() string {
	return fmt.Sprintf("%s: %s; query: %s", e.Source, e.Reason, e.Query)
}

// BadQuery reports whether the query text itself was refused (a syntax or
// unknown-function error): retrying cannot help, the user must fix it.
func (e *QueryError) BadQuery() bool {
	if e.Source == "prometheus" {
		return e.Type == "bad_data"
	}
	return e.Status == 400
}

// AuthError is a 401 or 403 from the metric system.
type AuthError struct {
	Source  string
	Status  int
	Hint    string // what to check, naming env vars but never their values
	Message string // the server's own words, redacted
}

func (e *AuthError) Error() string {
	s := fmt.Sprintf("%s: %s (HTTP %d): %s", e.Source, authWord(e.Status), e.Status, e.Hint)
	if e.Message != "" {
		s += "; " + e.Source + " said: " + e.Message
	}
	return s
}

// Is makes errors.Is(err, ErrUnauthorized) true.
func (e *AuthError) Is(target error) bool { return target == ErrUnauthorized }

func authWord(status int) string {
	if status == 401 {
		return "unauthorized"
	}
	return "forbidden"
}

// Permanent reports whether asking again cannot help: a selector or query
// refused as malformed, or refused credentials. No data, timeouts, rate limits
// and server or network faults may pass, so they are not permanent.
func Permanent(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrUnauthorized) {
		return true
	}
	var se *InputError
	if errors.As(err, &se) {
		return true
	}
	var qe *QueryError
	return errors.As(err, &qe) && qe.BadQuery()
}
