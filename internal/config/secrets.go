package config

import (
	"reflect"
	"strings"

	"github.com/pmguard/pmguard/internal/httpx"
)

// Secrets returns every secret the loaded settings in dst name, so the run's
// redactor learns them before any output: the value of each env var an
// EnvName setting names, and the credentials and query values of each URL
// setting. A secret holding a control character (a newline inside it, a
// stray \r) could never be sent as a header: that is bad input, named for
// its setting, before any request. Query values of the parameters
// PMGUARD_SHOW_QUERY names are not secrets.
func (s *Set) Secrets(dst any, env Env) ([]string, error) {
	var out []string
	var err error
	var shown []string
	if sh, ok := dst.(interface{ Shown() []string }); ok {
		shown = sh.Shown()
	}
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		t := v.Type()
		for i := 0; i < t.NumField() && err == nil; i++ {
			fv, sf := v.Field(i), t.Field(i)
			if !sf.IsExported() {
				continue
			}
			switch x := fv.Interface().(type) {
			case EnvName:
				if x == "" || sf.Tag.Get("secret") == "no" { // e.g. the Datadog site: named by env var, not secret
					continue
				}
				val := strings.TrimSpace(Get(env, string(x)))
				if strings.ContainsFunc(val, IsControl) {
					err = s.Invalid(sf.Name, string(x), "the variable "+string(x)+" holds a control character (a newline or carriage return inside the value)",
						"the name of an environment variable whose value is one line")
					continue
				}
				out = append(out, val)
			case URL:
				if x.URL != nil {
					out = append(out, httpx.URLSecrets(x.URL, shown...)...)
				}
			case BaseURL:
				if x.URL != nil {
					out = append(out, httpx.URLSecrets(x.URL, shown...)...)
				}
			default:
				if _, tagged := sf.Tag.Lookup("env"); !tagged && fv.Kind() == reflect.Struct {
					walk(fv)
				}
			}
		}
	}
	walk(reflect.ValueOf(dst).Elem())
	return out, err
}

// IsControl reports a control character other than tab: a value holding one
// would start a second line in a header, an argv word or a marker name.
func IsControl(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }
