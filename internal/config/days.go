package config

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Days is a non-negative span of days: a Go duration ("72h") that may also
// use d (24 h) and w (7 d) units, alone or mixed ("30d", "4w", "1d12h").
// Empty is zero. Day windows (dora's window, notify's reminders) use it.
type Days struct{ time.Duration }

// dayUnits finds the d and w parts of a value; Go's own units (ns, us, µs,
// ms, s, m, h) hold neither letter, so they stay for time.ParseDuration.
var dayUnits = regexp.MustCompile(`(\d+(?:\.\d*)?|\.\d+)([dw])`)

func (d *Days) EnvDecode(_ context.Context, v string) error {
	p, err := ParseDays(v)
	if err != nil {
		return err
	}
	d.Duration = p
	return nil
}

// ParseDays parses a Days value; see Days.
func ParseDays(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, nil
	}
	// 1d12h becomes 24h12h, which time.ParseDuration adds up.
	hours := dayUnits.ReplaceAllStringFunc(v, func(m string) string {
		n, _ := strconv.ParseFloat(m[:len(m)-1], 64) // the pattern matched a number
		if m[len(m)-1] == 'w' {
			n *= 7
		}
		return strconv.FormatFloat(n*24, 'f', -1, 64) + "h"
	})
	p, err := time.ParseDuration(hours)
	if err != nil {
		return 0, valueErrorf("not a number of days or a duration")
	}
	if p < 0 {
		return 0, valueErrorf("must not be negative")
	}
	return p, nil
}

func (Days) Form() string {
	return "days or weeks such as 30d, 4w or 1d12h, or a Go duration such as 72h"
}

// String writes whole days as 30d, anything else as a Go duration.
func (d Days) String() string {
	if day := 24 * time.Hour; d.Duration > 0 && d.Duration%day == 0 {
		return strconv.FormatInt(int64(d.Duration/day), 10) + "d"
	}
	return d.Duration.String()
}
