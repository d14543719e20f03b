package metricsource

import (
	"net/http"
	"testing"
	"time"
)

// A Datadog 429 carries X-RateLimit-Reset, not Retry-After; the client's
// RetryAfter hook reads it so httpx waits for the reset (and caps the wait).
func TestDatadogRetryAfter(t *testing.T) {
	cases := []struct {
		name   string
		code   int
		header http.Header
		want   time.Duration
		ok     bool
	}{
		{"reset honoured", 429, http.Header{"X-Ratelimit-Reset": {"7"}}, 7 * time.Second, true},
		{"long reset returned for httpx to cap", 429, http.Header{"X-Ratelimit-Reset": {"3600"}}, time.Hour, true},
		{"Retry-After wins", 429, http.Header{"X-Ratelimit-Reset": {"7"}, "Retry-After": {"2"}}, 2 * time.Second, true},
		{"garbage reset ignored", 429, http.Header{"X-Ratelimit-Reset": {"soon"}}, 0, false},
		{"negative reset ignored", 429, http.Header{"X-Ratelimit-Reset": {"-1"}}, 0, false},
		{"not a 429", 503, http.Header{"X-Ratelimit-Reset": {"7"}}, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := DatadogRetryAfter(&http.Response{StatusCode: c.code, Header: c.header}, time.Now())
			if got != c.want || ok != c.ok {
				t.Errorf("got %v, %v; want %v, %v", got, ok, c.want, c.ok)
			}
		})
	}
}
