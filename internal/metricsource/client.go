package metricsource

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"time"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/httpx"
)

// maxAnswer bounds a response body unless a client says otherwise.
const maxAnswer = 32 << 20

// httpURL parses an API's base URL: http(s), with a host, without a query
// or fragment (request paths and queries are appended to it); anything
// else is bad input named what, with reason saying what is wanted. The
// URL's credentials go to r, so no message quotes them.
func httpURL(what, raw, reason string, r *httpx.Redactor) (*url.URL, error) {
	u, err := config.ParseBaseURL(raw)
	if err != nil {
		return nil, &InputError{What: what, Input: httpx.RedactURL(raw), Pos: -1, Reason: err.Error() + ": " + reason}
	}
	r.AddURL(u)
	return u, nil
}

// fetch sends req through c and reads the whole answer, at most limit
// bytes. Its errors name the server (src) and tell a passed deadline from
// an unreachable server; they are redacted.
func fetch(c *httpx.Client, src fmt.Stringer, req *http.Request, limit int64) (*http.Response, []byte, error) {
	ctx := req.Context()
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		var we *httpx.WaitError
		if errors.As(err, &we) {
			return nil, nil, fmt.Errorf("%s: %w", src, err)
		}
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("%s: no answer before the deadline: %w", src, err)
		}
		return nil, nil, fmt.Errorf("%s is unreachable: %w", src, err)
	}
	defer resp.Body.Close()
	body, truncated, err := httpx.ReadLimited(resp.Body, limit)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("%s: no answer before the deadline: %w", src, c.Redactor().Error(err))
		}
		return nil, nil, fmt.Errorf("%s: reading the response: %w", src, c.Redactor().Error(err))
	}
	if truncated {
		return nil, nil, fmt.Errorf("%s: response larger than %s; narrow the query", src, byteSize(limit))
	}
	return resp, body, nil
}

// byteSize writes n in MiB when it is a whole number of them.
func byteSize(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// latency reads a latency query's value in seconds; a negative or infinite
// value is not a latency.
func latency(src string, seconds float64, query string) (time.Duration, error) {
	if math.IsInf(seconds, 0) || seconds < 0 {
		return 0, fmt.Errorf("%s: latency query gave %v seconds, not a latency; query: %s", src, seconds, query)
	}
	return time.Duration(seconds * float64(time.Second)), nil
}

// quote is a server's words in a message: redacted, bounded
// (httpx.Redactor.Quote), and "(empty body)" for nothing.
func quote(red *httpx.Redactor, s string) string {
	if s = red.Quote(s); s == "" {
		return "(empty body)"
	}
	return s
}
