package events

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// Figures is an event's figures as they are on the wire. Readers go through
// its accessors or Event.Decode, which accept what other tools write too:
// numbers as JSON numbers or strings ("2%" is 0.02), lists of strings.
type Figures map[string]any

// Number returns the figure k as a number.
func (f Figures) Number(k string) (float64, bool) {
	switch v := f[k].(type) {
	case float64:
		return v, !math.IsNaN(v) && !math.IsInf(v, 0)
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case json.Number:
		n, err := v.Float64()
		return n, err == nil
	case string:
		s := strings.TrimSpace(v)
		pct := strings.HasSuffix(s, "%")
		n, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(s, "%")), 64)
		if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
			return 0, false
		}
		if pct {
			n /= 100
		}
		return n, true
	}
	return 0, false
}

// Fraction returns the figure k as a fraction, for rates: 0.25 and "25%"
// are 0.25, and so is a bare 25, since some tools write rates as
// percentages without the sign (a rate above 1 cannot be a fraction).
func (f Figures) Fraction(k string) (float64, bool) {
	v, ok := f.Number(k)
	if ok && v > 1 {
		v /= 100
	}
	return v, ok
}

// String returns the figure k as text ("" when absent).
func (f Figures) String(k string) string {
	switch v := f[k].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

// Bool returns the figure k as a boolean (true, or the text "true").
func (f Figures) Bool(k string) bool {
	switch v := f[k].(type) {
	case bool:
		return v
	case string:
		b, _ := strconv.ParseBool(strings.TrimSpace(v))
		return b
	}
	return false
}

// Strings returns the figure k as a list of strings.
func (f Figures) Strings(k string) []string {
	switch v := f[k].(type) {
	case []string:
		return v
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case string:
		if v != "" {
			return []string{v}
		}
	}
	return nil
}

// SetFigures replaces e's figures with v, a struct of this package (or any
// value that marshals to a JSON object).
func (e *Event) SetFigures(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("events: figures %T do not marshal: %v", v, err))
	}
	var m Figures
	if err := json.Unmarshal(b, &m); err != nil {
		panic(fmt.Sprintf("events: figures %T are not a JSON object", v))
	}
	if len(m) == 0 {
		m = nil
	}
	e.Figures = m
}

// Decode fills dst, a pointer to one of this package's figure structs, from
// e's figures. Keys are matched by the json tag, then by the alias tag; a
// value of the wrong type is left at zero rather than failing the read, since
// one odd figure must not hide an incident.
func (e Event) Decode(dst any) {
	rv := reflect.ValueOf(dst).Elem()
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		sf := rt.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		keys := []string{name}
		if a := sf.Tag.Get("alias"); a != "" {
			keys = append(keys, strings.Split(a, ",")...)
		}
		for _, k := range keys {
			if _, ok := e.Figures[k]; ok && setField(rv.Field(i), e.Figures, k) {
				break
			}
		}
	}
}

func setField(v reflect.Value, f Figures, k string) bool {
	switch v.Kind() {
	case reflect.String:
		s := f.String(k)
		v.SetString(s)
		return s != ""
	case reflect.Bool:
		v.SetBool(f.Bool(k))
		return true
	case reflect.Int, reflect.Int64:
		n, ok := f.Number(k)
		if ok {
			v.SetInt(int64(math.Round(n)))
		}
		return ok
	case reflect.Float64:
		n, ok := f.Number(k)
		if ok {
			v.SetFloat(n)
		}
		return ok
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.String {
			l := f.Strings(k)
			v.Set(reflect.ValueOf(l))
			return l != nil
		}
	}
	return false
}

// mapStrings applies fn to every string in f, nested values included.
func mapStrings(f Figures, fn func(string) string) Figures {
	if f == nil {
		return nil
	}
	out := make(Figures, len(f))
	for k, v := range f {
		out[k] = mapValue(v, fn)
	}
	return out
}

func mapValue(v any, fn func(string) string) any {
	switch x := v.(type) {
	case string:
		return fn(x)
	case []string:
		out := make([]string, len(x))
		for i, s := range x {
			out[i] = fn(s)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = mapValue(s, fn)
		}
		return out
	case map[string]any:
		return map[string]any(mapStrings(x, fn))
	case Figures:
		return mapStrings(x, fn)
	}
	return v
}
