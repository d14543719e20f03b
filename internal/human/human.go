// Package human prints figures the way pmguard's reports, notices and logs
// show them to people, so that every verb writes a rate, a latency and a
// duration alike: 2.13%, 45.7 ms, 1 h 5 min.
package human

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Percent prints a fraction as a percentage with the precision its size
// needs: one decimal from 10% (12.5%), two below (2.13%, 0.45%), three
// significant digits under 0.1% (0.0123%). Trailing zeros are dropped, so
// a limit of 2% reads "2%", and a rate just under it "1.99%", not "2%".
func Percent(f float64) string {
	v := f * 100
	switch a := math.Abs(v); {
	case v == 0:
		return "0%"
	case a >= 10:
		return trim(v, 1) + "%"
	case a >= 0.1:
		return trim(v, 2) + "%"
	}
	return strconv.FormatFloat(v, 'g', 3, 64) + "%"
}

// Count prints n of a noun, singular for 1: "1 step", "3 steps", "0
// requests". noun is the singular, made plural with an s.
func Count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// Millis prints milliseconds: whole ones from 100 ms, else one decimal from
// 10 ms and two below (45.7 ms, 4.57 ms).
func Millis(ms float64) string {
	switch a := math.Abs(ms); {
	case a >= 100:
		return trim(ms, 0) + " ms"
	case a >= 10:
		return trim(ms, 1) + " ms"
	}
	return trim(ms, 2) + " ms"
}

// Duration prints a duration the way people say it: 40 s, 18 min,
// 18 min 20 s, 1 h 5 min, 2 d 4 h. Its sign is dropped (callers say
// "before" or "after").
func Duration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	// Each unit is chosen after rounding to the one below it, so 59.6 s is
	// "1 min", not "60 s".
	if s := d.Round(time.Second); s < time.Minute {
		return fmt.Sprintf("%d s", int(s/time.Second))
	} else if s < time.Hour {
		if sec := s % time.Minute; sec != 0 {
			return fmt.Sprintf("%d min %d s", int(s/time.Minute), int(sec/time.Second))
		}
		return fmt.Sprintf("%d min", int(s/time.Minute))
	}
	if m := d.Round(time.Minute); m < 48*time.Hour {
		if mins := m % time.Hour; mins != 0 {
			return fmt.Sprintf("%d h %d min", int(m/time.Hour), int(mins/time.Minute))
		}
		return fmt.Sprintf("%d h", int(m/time.Hour))
	}
	h := d.Round(time.Hour)
	if rest := h % (24 * time.Hour); rest != 0 {
		return fmt.Sprintf("%d d %d h", int(h/(24*time.Hour)), int(rest/time.Hour))
	}
	return fmt.Sprintf("%d d", int(h/(24*time.Hour)))
}

// trim rounds v to digits decimals and drops trailing zeros.
func trim(v float64, digits int) string {
	p := math.Pow(10, float64(digits))
	return strconv.FormatFloat(math.Round(v*p)/p, 'f', -1, 64)
}

// Clip cuts s to n characters at most, the last one an ellipsis when it was
// cut; on characters, never inside one.
func Clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
