package config

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/httpx"
)

// Duration is a non-negative Go duration ("500ms", "10s", "5m"); empty is zero.
type Duration struct{ time.Duration }

func (d *Duration) EnvDecode(_ context.Context, v string) error {
	v = strings.TrimSpace(v)
	if v == "" {
		d.Duration = 0
		return nil
	}
	p, err := time.ParseDuration(v)
	if err != nil {
		return valueErrorf("not a duration")
	}
	if p < 0 {
		return valueErrorf("must not be negative")
	}
	d.Duration = p
	return nil
}

func (Duration) Form() string { return "a Go duration such as 500ms, 10s or 5m" }

// Count is a whole number, 0 or more.
type Count int

func (c *Count) EnvDecode(_ context.Context, v string) error {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return valueErrorf("not a whole number")
	}
	if n < 0 {
		return valueErrorf("is negative")
	}
	*c = Count(n)
	return nil
}

func (Count) Form() string { return "a whole number, 0 or more" }

// Percent is a fraction between 0 and 1, written "2%" or "0.02".
type Percent float64

func (p *Percent) EnvDecode(_ context.Context, v string) error {
	f, err := ParsePercent(v)
	if err != nil {
		return err
	}
	*p = Percent(f)
	return nil
}

// ParsePercent is the one percentage parser: "2%" and "0.02" are 0.02. A
// bare number above 1 ("25") is rejected rather than guessed at, since it
// could mean 25% or be a typo for 0.25. Every verb and every file pmguard
// reads (incident.yml, targets) uses it.
func ParsePercent(v string) (float64, error) {
	f, pct, err := fraction(v)
	if err != nil {
		return 0, err
	}
	if !pct && f > 1 {
		v = strings.TrimSpace(v)
		return 0, valueErrorf("%s without a %% sign is ambiguous: write %s%% or %s", v, v, strconv.FormatFloat(f/100, 'g', -1, 64))
	}
	if f < 0 || f > 1 {
		return 0, valueErrorf("out of range")
	}
	return f, nil
}

// fraction reads "50%" or "0.5" as 0.5, and says whether a % sign was
// written; the range is the caller's.
func fraction(v string) (f float64, pct bool, err error) {
	v = strings.TrimSpace(v)
	pct = strings.HasSuffix(v, "%")
	f, err = strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(v, "%")), 64)
	if err != nil || f != f {
		return 0, pct, valueErrorf("not a percentage")
	}
	if pct {
		f /= 100
	}
	return f, pct, nil
}

func (Percent) Form() string { return "a percentage such as 2% or 0.02, from 0% to 100%" }

// String formats p as a percentage.
func (p Percent) String() string { return strconv.FormatFloat(float64(p)*100, 'g', 4, 64) + "%" }

// OptPercent is a Percent that may be left empty (zero).
type OptPercent float64

func (o *OptPercent) EnvDecode(_ context.Context, v string) error {
	if strings.TrimSpace(v) == "" {
		*o = 0
		return nil
	}
	f, err := ParsePercent(v)
	if err != nil {
		return err
	}
	if f == 0 {
		// Zero is how an empty setting is held: taking "0%" for the default
		// would silently ignore what was written.
		return valueErrorf("0%% is no share; leave it empty for the default")
	}
	*o = OptPercent(f)
	return nil
}

func (OptPercent) Form() string {
	return "a percentage above 0% such as 5% or 0.05; empty for the default"
}

// Margin is a relative margin, "50%" or "0.5"; unlike a Percent it may
// exceed 100% ("200%": three times as bad).
type Margin float64

func (m *Margin) EnvDecode(_ context.Context, v string) error {
	f, _, err := fraction(v)
	if err != nil {
		return err
	}
	if f <= 0 || f > 100 {
		return valueErrorf("out of range")
	}
	*m = Margin(f)
	return nil
}

func (Margin) Form() string {
	return "a relative margin above 0 such as 50% or 0.5 (200% means three times as bad)"
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
			return valueErrorf("unknown unit")
		}
		v = strings.TrimSpace(n)
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f != f {
		return valueErrorf("not a rate")
	}
	f /= per
	if f <= 0 || f > 100000 {
		return valueErrorf("out of range")
	}
	*r = Rate(f)
	return nil
}

func (Rate) Form() string {
	return "requests per second such as 10, 10/s or 600/m, above 0 and at most 100000/s"
}

// URL is an absolute http or https URL.
type URL struct{ *url.URL }

func (u *URL) EnvDecode(_ context.Context, v string) (err error) {
	u.URL, err = optionalURL(v, ParseURL)
	return err
}

// optionalURL is parse(v), or nil for an empty setting.
func optionalURL(v string, parse func(string) (*url.URL, error)) (*url.URL, error) {
	if v = strings.TrimSpace(v); v == "" {
		return nil, nil
	}
	return parse(v)
}

func (URL) Form() string { return "an absolute http:// or https:// URL" }

// BaseURL is an API's base URL: an absolute http or https URL without a
// query or fragment, since request paths are appended to it (a query would
// end up in front of them, or be dropped).
type BaseURL struct{ *url.URL }

func (u *BaseURL) EnvDecode(_ context.Context, v string) (err error) {
	u.URL, err = optionalURL(v, ParseBaseURL)
	return err
}

// ParseBaseURL parses an API's base URL: ParseURL's rules, and no query or
// fragment.
func ParseBaseURL(v string) (*url.URL, error) {
	p, err := ParseURL(v)
	if err != nil {
		return nil, err
	}
	if p.RawQuery != "" || p.ForceQuery || p.Fragment != "" {
		return nil, valueErrorf("a base URL takes no query (?...) or fragment (#...): request paths are appended to it")
	}
	return p, nil
}

func (BaseURL) Form() string { return "an absolute http:// or https:// URL without a query" }

// ParseURL parses an absolute http or https URL with a host and, when it
// names one, a port from 1 to 65535.
func ParseURL(v string) (*url.URL, error) {
	p, err := url.Parse(v)
	if err != nil {
		return nil, valueErrorf("not a URL")
	}
	if p.Scheme != "http" && p.Scheme != "https" {
		return nil, valueErrorf("scheme must be http or https")
	}
	if p.Hostname() == "" {
		return nil, valueErrorf("no host")
	}
	if why := httpx.BadPort(p); why != "" {
		return nil, valueErrorf("%s", why)
	}
	return p, nil
}

// Lines is a list given one item per line (a repeated flag gives one line per
// use). Blank lines and lines starting with # are ignored.
type Lines []string

func (l *Lines) EnvDecode(_ context.Context, v string) error {
	*l = nil
	for _, line := range strings.Split(v, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			*l = append(*l, line)
		}
	}
	return nil
}

func (Lines) Form() string { return "one value per line" }

// List is a list given one item per line or comma-separated.
type List []string

func (l *List) EnvDecode(_ context.Context, v string) error {
	*l = nil
	for _, line := range strings.Split(v, "\n") {
		for _, item := range strings.Split(line, ",") {
			item = strings.TrimSpace(item)
			// No comment syntax: "#deploys" is a Slack channel.
			if item != "" {
				*l = append(*l, item)
			}
		}
	}
	return nil
}

func (List) Form() string { return "values separated by commas or newlines" }

// File is the path of a file that must be readable; empty means none.
type File string

func (f *File) EnvDecode(_ context.Context, v string) error {
	v = strings.TrimSpace(v)
	if v != "" {
		fh, err := os.Open(v)
		if err != nil {
			return valueErrorf("cannot read it: %v", PathCause(err))
		}
		st, err := fh.Stat()
		fh.Close()
		if err == nil && st.IsDir() {
			return valueErrorf("is a directory")
		}
	}
	*f = File(v)
	return nil
}

func (File) Form() string { return "the path of a readable file" }

// PathCause is why a file operation failed, without the path: messages
// name the path themselves.
func PathCause(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// EnvName is the name of an environment variable that holds a secret; the
// secret itself never passes through flags or orb parameters.
type EnvName string

func (n *EnvName) EnvDecode(_ context.Context, v string) error {
	v = strings.TrimSpace(v)
	for i, r := range v {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return valueErrorf("not an environment variable name")
		}
	}
	*n = EnvName(v)
	return nil
}

func (EnvName) Form() string {
	return "the name of an environment variable (not its value), such as CIRCLE_TOKEN"
}

// StatusSet is a set of HTTP status codes: "200", "200,204", "2xx", "200-399".
type StatusSet struct {
	ranges [][2]int
	text   string
}

func (s *StatusSet) EnvDecode(_ context.Context, v string) error {
	p, err := ParseStatusSet(v)
	if err != nil {
		return err
	}
	*s = p
	return nil
}

func (StatusSet) Form() string {
	return "status codes and ranges such as 200, 200,204, 2xx or 200-399"
}

// ParseStatusSet parses a status set; see StatusSet.
func ParseStatusSet(v string) (StatusSet, error) {
	s := StatusSet{text: strings.TrimSpace(v)}
	for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '|' }) {
		var lo, hi int
		switch {
		case len(part) == 3 && strings.HasSuffix(strings.ToLower(part), "xx") && part[0] >= '1' && part[0] <= '5':
			lo = int(part[0]-'0') * 100
			hi = lo + 99
		case strings.Contains(part, "-"):
			a, b, _ := strings.Cut(part, "-")
			var err1, err2 error
			lo, err1 = strconv.Atoi(a)
			hi, err2 = strconv.Atoi(b)
			if err1 != nil || err2 != nil || lo > hi {
				return StatusSet{}, valueErrorf("%q is not a status range", part)
			}
		default:
			n, err := strconv.Atoi(part)
			if err != nil {
				return StatusSet{}, valueErrorf("%q is not a status code", part)
			}
			lo, hi = n, n
		}
		if lo < 100 || hi > 599 {
			return StatusSet{}, valueErrorf("%q is outside 100-599", part)
		}
		s.ranges = append(s.ranges, [2]int{lo, hi})
	}
	if len(s.ranges) == 0 {
		return StatusSet{}, valueErrorf("no status code given")
	}
	return s, nil
}

// Contains reports whether code is in the set.
func (s StatusSet) Contains(code int) bool {
	for _, r := range s.ranges {
		if code >= r[0] && code <= r[1] {
			return true
		}
	}
	return false
}

// IsZero reports whether the set is empty (not given).
func (s StatusSet) IsZero() bool { return len(s.ranges) == 0 }

func (s StatusSet) String() string { return s.text }

// MarshalText lets reports show the set as it was written.
func (s StatusSet) MarshalText() ([]byte, error) { return []byte(s.text), nil }

// Choice checks that v is one of allowed and returns a ValueError otherwise.
func Choice(v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return valueErrorf("must be one of %s", strings.Join(allowed, ", "))
}

// Quote formats a list of allowed words for an accepted form.
func Quote(words ...string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = fmt.Sprintf("%q", w)
	}
	return "one of " + strings.Join(q, ", ")
}

// Shared holds the settings every verb has.
type Shared struct {
	EventsFile string `env:"PMGUARD_EVENTS_FILE" flag:"events-file" check:"appendable" group:"Event log" usage:"append events to this JSON Lines file (store it as an artifact)"`
	ShowQuery  List   `env:"PMGUARD_SHOW_QUERY" flag:"show-query" group:"Output" usage:"query parameters whose values output may show (e.g. page,region); every other query value is hidden"`
}

// Shown returns the query parameters whose values are not secret.
func (s *Shared) Shown() []string { return s.ShowQuery }

// Reports holds the report files of a verb that makes a verdict.
type Reports struct {
	JSON  string `env:"JSON" orb:"report_path" flag:"json" check:"writable" group:"Reports" usage:"write a JSON report to this file"`
	JUnit string `env:"JUNIT" orb:"junit_path" flag:"junit" check:"writable" group:"Reports" usage:"write a JUnit XML report to this file (for store_test_results)"`
}
