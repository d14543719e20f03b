package probe

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/httpx"
)

// Request is the method and headers both verbs send, read from their
// settings by ParseRequest.
type Request struct {
	Method string
	Header http.Header
}

// ParseRequest validates the method and the 'Name: value' header lines of a
// verb's settings (method and headers point into the loaded settings, so
// errors name them) and registers with red every secret a request carries:
// the header values read from the environment and the credentials and query
// values of urls. ${VAR} in a header value is read from env; a variable that
// is unset or empty, or a value holding a control character, is bad input
// here, before any request: it would send an empty credential or could not
// be sent at all.
func ParseRequest(set *config.Set, method *string, headers *config.Lines, env config.Env, red *httpx.Redactor, urls ...*url.URL) (Request, error) {
	r := Request{Method: strings.ToUpper(*method), Header: http.Header{}}
	if !httpx.IsToken(r.Method) {
		return r, set.Invalid(method, *method, "not an HTTP method", "GET, HEAD, POST or another HTTP method token")
	}
	*method = r.Method
	for _, u := range urls {
		red.AddURL(u)
	}
	for _, h := range *headers {
		name, value, ok := strings.Cut(h, ":")
		name = strings.TrimSpace(name)
		if !ok || !httpx.IsToken(name) {
			// The value may hold a secret: show only the first word.
			shown, _, _ := strings.Cut(name, " ")
			return r, set.Invalid(headers, shown, "not a 'Name: value' header", "'Name: value', one per line; the value may use ${ENV_VAR}")
		}
		expanded, err := expand(strings.TrimSpace(value), env, red)
		if err != nil {
			return r, set.Invalid(headers, name+": ...", err.Error(), "'Name: value', one per line; ${ENV_VAR} in the value must name a variable that is set to one line")
		}
		r.Header.Add(name, expanded)
	}
	return r, nil
}

// expand replaces ${VAR} (and $VAR) in v from env, registering each value
// read with red.
func expand(v string, env config.Env, red *httpx.Redactor) (string, error) {
	var unset []string
	out := os.Expand(v, func(name string) string {
		got := config.Get(env, name)
		if got == "" {
			unset = append(unset, "${"+name+"}")
		}
		red.Add(got)
		return got
	})
	switch {
	case len(unset) > 0:
		return "", fmt.Errorf("the value names %s, which is not set in the environment", strings.Join(unset, ", "))
	case strings.ContainsFunc(out, config.IsControl):
		return "", fmt.Errorf("the value holds a control character (a newline or carriage return inside a variable's value?)")
	}
	return out, nil
}
