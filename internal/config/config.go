// Package config loads a verb's settings from flags and PMGUARD_* environment
// variables with go-envconfig, and holds the value types settings share.
//
// A verb describes its settings as a struct:
//
//	type Settings struct {
//		Interval config.Duration `env:"INTERVAL, default=10s" flag:"interval" usage:"wait between attempts"`
//	}
//
// The env key is prefixed with PMGUARD_<VERB>_ unless it already starts with
// PMGUARD_ (shared settings such as PMGUARD_EVENTS_FILE). Flags override the
// environment, the environment overrides defaults. A repeated flag collects
// its values one per line. Every decoding error becomes an *InputError naming
// the setting, its flag, its env var and the accepted form.
package config

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/pmguard/pmguard/internal/appendfile"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/suggest"
	"github.com/sethvargo/go-envconfig"
)

// Env looks up environment variables. Verbs take it as a dependency so tests
// can pass a map instead of the process environment.
type Env = envconfig.Lookuper

// OSEnv is the process environment.
func OSEnv() Env { return osEnv{} }

// MapEnv is an environment made of m.
func MapEnv(m map[string]string) Env { return mapEnv(m) }

// Both environments list their variables (Environ), for a child process.
type (
	osEnv  struct{}
	mapEnv map[string]string
)

func (osEnv) Lookup(key string) (string, bool) { return os.LookupEnv(key) }
func (osEnv) Environ() []string                { return os.Environ() }

func (m mapEnv) Lookup(key string) (string, bool) {
	v, ok := m[key]
	return v, ok
}

func (m mapEnv) Environ() []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// Environ is env as a child process's environment (KEY=value). An Env that
// cannot list its variables gives an empty one, never the process's own
// (which is what a nil exec.Cmd.Env would mean).
func Environ(env Env) []string {
	if l, ok := env.(interface{ Environ() []string }); ok {
		return l.Environ()
	}
	return []string{}
}

// Get returns the value of key in env, or "".
func Get(env Env, key string) string {
	v, _ := env.Lookup(key)
	return v
}

// ErrHelp is returned by Load when -h or --help was given; usage was printed.
var ErrHelp = flag.ErrHelp

// Former describes the accepted form of a value type for error messages and help.
type Former interface{ Form() string }

// field is one leaf setting of a settings struct.
type field struct {
	name    string // Go field name
	param   string // orb parameter name: snake_case of the key
	key     string // env key as written in the tag (without the verb prefix)
	env     string // full env var name
	flag    string
	usage   string
	def     string
	form    string
	isBool  bool
	isList  bool          // a repeated flag adds a line; for any other a repeat replaces
	val     reflect.Value // the field in the loaded settings
	group   string        // the help section
	check   string        // "writable": an output file whose directory must exist; "appendable": a file appended to (a regular file this process may write, or none yet)
	typname string
	index   []int  // the field's path in the settings struct
	raw     string // the value as given (flag or env var), "" for the default
}

// Set is the loaded description of a verb's settings; it names settings in errors.
type Set struct {
	verb   string
	fields []*field
	strays []*stray
	// defaults: the settings as their defaults alone make them, to tell a
	// setting given from one left as it is (the orb passes every parameter,
	// most at the default).
	defaults     reflect.Value
	requiredKeys map[string]bool // the keys of required settings
}

// stray is an env var with the verb's prefix that names none of its
// settings: a typo, or a setting of another pmguard release. It is never an
// error by itself (a CircleCI context may serve several releases), but a
// missing setting it is a near miss of names it.
type stray struct {
	env   string
	near  *field // the setting it is likely a typo of, or nil
	named bool   // already named in an error
}

// Load fills dst, a pointer to a settings struct, for verb from args and env.
// It returns the positional arguments left after the flags.
func Load(ctx context.Context, verb string, args []string, env Env, dst any, helpOut io.Writer) (*Set, []string, error) {
	prefix := "PMGUARD_" + strings.ToUpper(verb) + "_"
	s := &Set{verb: verb}
	if err := s.collect(reflect.ValueOf(dst).Elem(), prefix, nil); err != nil {
		return nil, nil, err
	}
	s.findStrays(env, prefix)

	fs := flag.NewFlagSet("pmguard "+verb, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	given := map[string][]string{}
	for _, f := range s.fields {
		if f.flag == "" {
			continue
		}
		fs.Var(&collector{key: f.key, given: given, isBool: f.isBool, isList: f.isList}, f.flag, f.usage)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			s.Usage(helpOut)
			return s, nil, ErrHelp
		}
		return s, nil, s.flagError(err, args)
	}
	if rest := fs.Args(); len(rest) > 0 {
		return s, nil, Invalidf("pmguard %s: unexpected argument %q: settings are --flags or PMGUARD_%s_* env vars (see pmguard help %s)",
			verb, rest[0], strings.ToUpper(verb), verb)
	}

	lookup := &settingsLookuper{prefix: prefix, given: given, env: env, raw: map[string]string{}}
	err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: dst, Lookuper: lookup})
	if err != nil {
		return s, nil, s.wrap(err, lookup, lookup.last)
	}
	for _, f := range s.fields {
		f.raw = lookup.raw[f.key]
	}
	defaults := reflect.New(reflect.TypeOf(dst).Elem())
	if envconfig.ProcessWith(ctx, &envconfig.Config{Target: defaults.Interface(), Lookuper: &settingsLookuper{prefix: prefix, given: given, env: env, defaultsOnly: true, keep: s.requiredKeys}}) == nil {
		s.defaults = defaults.Elem()
	}
	return s, nil, s.checkPaths()
}

// checkPaths makes sure every output file can be written before the verb
// does any work: a report that cannot be written must not cost a whole
// canary analysis first. A file appended to (the event log) must also be a
// regular file this process may write when it exists already.
func (s *Set) checkPaths() error {
	for _, f := range s.fields {
		if f.check != "writable" && f.check != "appendable" {
			continue
		}
		path := strings.TrimSpace(f.val.String())
		if path == "" {
			continue
		}
		if err := checkPath(f.check, path); err != nil {
			return s.invalid(f, path, err.Error())
		}
	}
	return nil
}

func checkPath(check, path string) error {
	if check == "appendable" {
		if exists, err := appendfile.Check(path); exists || err != nil {
			return err
		}
	}
	return writable(path)
}

// writable checks that path's directory exists (or can be created) and
// takes new files, and that path is not a directory.
func writable(path string) error {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return errors.New("is a directory")
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("its directory %s cannot be created: %v", dir, PathCause(err))
	}
	f, err := os.CreateTemp(dir, ".pmguard-check-*")
	if err != nil {
		return fmt.Errorf("its directory %s is not writable: %v", dir, PathCause(err))
	}
	f.Close()
	return os.Remove(f.Name())
}

// flagError rewrites the flag package's message ("flag provided but not
// defined: -bogus") to name the flag as it was typed, with the nearest
// known flag.
func (s *Set) flagError(err error, args []string) error {
	msg := err.Error()
	name, unknown := strings.CutPrefix(msg, "flag provided but not defined: -")
	if !unknown { // "invalid value ... for flag -x: ...": spell it --x
		return Invalidf("pmguard %s: %s (see pmguard help %s)", s.verb, strings.Replace(msg, " -", " --", 1), s.verb)
	}
	typed := "--" + name
	for _, a := range args {
		if a == "-"+name || strings.HasPrefix(a, "-"+name+"=") {
			typed = "-" + name
		}
	}
	var flags []string
	for _, f := range s.fields {
		if f.flag != "" {
			flags = append(flags, f.flag)
		}
	}
	hint := ""
	if c := suggest.Closest(name, flags); c != "" {
		hint = fmt.Sprintf("; did you mean --%s?", c)
	}
	return Invalidf("pmguard %s: unknown flag %s%s (see pmguard help %s)", s.verb, typed, hint, s.verb)
}

func (s *Set) collect(v reflect.Value, prefix string, index []int) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag, ok := sf.Tag.Lookup("env")
		if !ok {
			if sf.Type.Kind() == reflect.Struct {
				if err := s.collect(v.Field(i), prefix, append(index[:len(index):len(index)], i)); err != nil {
					return err
				}
			}
			continue
		}
		key, opts, _ := strings.Cut(tag, ",")
		key = strings.TrimSpace(key)
		f := &field{
			name:    sf.Name,
			key:     key,
			env:     key,
			flag:    sf.Tag.Get("flag"),
			usage:   sf.Tag.Get("usage"),
			form:    sf.Tag.Get("form"),
			isBool:  sf.Type.Kind() == reflect.Bool,
			isList:  sf.Type.Kind() == reflect.Slice,
			val:     v.Field(i),
			group:   sf.Tag.Get("group"),
			check:   sf.Tag.Get("check"),
			typname: typeName(sf.Type),
			index:   append(index[:len(index):len(index)], i),
		}
		if !strings.HasPrefix(key, "PMGUARD_") {
			f.env = prefix + key
		}
		f.param = strings.ToLower(strings.TrimPrefix(key, "PMGUARD_"))
		if o := sf.Tag.Get("orb"); o != "" { // the orb names this parameter differently
			f.param = o
		}
		for _, o := range strings.Split(opts, ",") {
			o = strings.TrimSpace(o)
			if d, ok := strings.CutPrefix(o, "default="); ok {
				f.def = d
			}
			if o == "required" {
				if s.requiredKeys == nil {
					s.requiredKeys = map[string]bool{}
				}
				s.requiredKeys[key] = true
			}
		}
		if f.form == "" {
			f.form = formOf(sf.Type)
		}
		s.fields = append(s.fields, f)
	}
	return nil
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return ""
	case reflect.Int, reflect.Int64, reflect.Uint:
		return "N"
	case reflect.Float64:
		return "X"
	}
	n := strings.ToUpper(t.Name())
	if n == "" || n == "STRING" {
		n = "VALUE"
	}
	return n
}

func formOf(t reflect.Type) string {
	if f, ok := reflect.New(t).Interface().(Former); ok {
		return f.Form()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "a whole number"
	case reflect.Float64:
		return "a number"
	}
	return ""
}

// wrap turns an envconfig error into an InputError naming the setting.
// envconfig names the field for most errors but not for struct types with
// their own decoder; then the key looked up last is the one that failed.
func (s *Set) wrap(err error, lookup envconfig.Lookuper, lastKey string) error {
	msg := err.Error()
	var ve *ValueError
	if errors.As(err, &ve) {
		for _, f := range s.fields {
			if f.key == lastKey {
				val, _ := lookup.Lookup(f.key)
				return s.invalid(f, val, ve.Msg)
			}
		}
	}
	for _, f := range s.fields {
		if errors.Is(err, envconfig.ErrMissingRequired) {
			if strings.HasSuffix(msg, ": "+f.key) {
				return s.required(f, "a value is required", "")
			}
			continue
		}
		if strings.HasPrefix(msg, f.name+": ") || strings.Contains(msg, ": "+f.name+": ") {
			val, _ := lookup.Lookup(f.key)
			cause := msg[strings.LastIndex(msg, f.name+": ")+len(f.name)+2:]
			return s.invalid(f, val, cause)
		}
	}
	return Invalidf("pmguard %s: %v", s.verb, err)
}

// settingsLookuper finds a setting's value: flags first, then the env var.
// Every value, whatever its type, is normalised the same way: surrounding
// white space (the trailing newline a CircleCI parameter or a pasted secret
// brings) is trimmed. An empty value counts as unset, since the orb passes
// every parameter, and an optional one left empty means "use the default".
type settingsLookuper struct {
	last   string            // the key looked up last, to name a failing setting
	raw    map[string]string // what each key found, as given
	prefix string
	given  map[string][]string
	env    Env
	// defaultsOnly finds no setting but those in keep (the required,
	// which have no default), so every other takes its default.
	defaultsOnly bool
	keep         map[string]bool
}

func (l *settingsLookuper) Lookup(key string) (string, bool) {
	l.last = key
	if l.defaultsOnly && !l.keep[key] {
		return "", false
	}
	if v, ok := l.given[key]; ok {
		if s := strings.TrimSpace(strings.Join(v, "\n")); s != "" {
			l.keepRaw(key, s)
			return s, true
		}
	}
	name := key
	if !strings.HasPrefix(name, "PMGUARD_") {
		name = l.prefix + name
	}
	v, ok := l.env.Lookup(name)
	v = strings.TrimSpace(v)
	if ok && v != "" {
		l.keepRaw(key, v)
	}
	return v, ok && v != ""
}

func (l *settingsLookuper) keepRaw(key, v string) {
	if l.raw != nil {
		l.raw[key] = v
	}
}

// Unwrap lets a default such as default=$SLACK_DEFAULT_CHANNEL read the plain
// environment.
func (l *settingsLookuper) Unwrap() envconfig.Lookuper { return l.env }

// InputError is a setting whose value cannot be used.
type InputError struct {
	Verb, Param, Flag, Env, Value, Cause, Form string
	// Hint, last, names env vars set that are near misses of Env.
	Hint string
}

func (e *InputError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pmguard %s: invalid %s", e.Verb, e.Param)
	if e.Value != "" {
		fmt.Fprintf(&b, " %q", e.Value)
	}
	b.WriteString(" (")
	if e.Flag != "" {
		fmt.Fprintf(&b, "flag --%s, ", e.Flag)
	}
	fmt.Fprintf(&b, "env %s)", e.Env)
	if e.Cause != "" {
		fmt.Fprintf(&b, ": %s", e.Cause)
	}
	if e.Form != "" {
		fmt.Fprintf(&b, "; accepted: %s", e.Form)
	}
	if e.Hint != "" {
		fmt.Fprintf(&b, "; %s", e.Hint)
	}
	return b.String()
}

// InvalidError is bad input or configuration that is not one setting's
// value (a usage error, a file that cannot be used); exit 2 like InputError.
type InvalidError struct{ Err error }

func (e *InvalidError) Error() string { return e.Err.Error() }
func (e *InvalidError) Unwrap() error { return e.Err }

// Invalid marks err as bad input.
func Invalid(err error) error {
	if err == nil {
		return nil
	}
	return &InvalidError{Err: err}
}

// Invalidf returns a bad-input error with a formatted message.
func Invalidf(format string, a ...any) error { return Invalid(fmt.Errorf(format, a...)) }

func (s *Set) invalid(f *field, value, cause string) error {
	value = quotable(value)
	if len(value) > 200 {
		value = value[:200] + "..."
	}
	return &InputError{Verb: s.verb, Param: f.param, Flag: f.flag, Env: f.env, Value: value, Cause: cause, Form: f.form}
}

// Invalid reports a value of a setting that the verb rejected after loading
// (a cross-field rule, an enum). The setting is given as a pointer to its
// field in the loaded settings (&s.Timeout), so the message names its orb
// parameter, flag and env var. form overrides the type's accepted form when
// not empty.
func (s *Set) Invalid(setting any, value, cause, form string) error {
	f := s.fieldOf(setting)
	if f == nil {
		return Invalidf("pmguard %s: invalid setting %q: %s", s.verb, quotable(value), cause)
	}
	if f.raw != "" && value == shown(f.val) {
		// The message quotes the value as the user wrote it ("0d"), not
		// as it was parsed ("0s").
		value = f.raw
	}
	e := s.invalid(f, value, cause).(*InputError)
	if form != "" {
		e.Form = form
	}
	return e
}

// shown is how a caller of Invalid writes a setting's whole value.
func shown(v reflect.Value) string {
	if st, ok := v.Interface().(fmt.Stringer); ok {
		return st.String()
	}
	if v.CanAddr() {
		if st, ok := v.Addr().Interface().(fmt.Stringer); ok {
			return st.String()
		}
	}
	return fmt.Sprint(v.Interface())
}

// fieldOf finds a setting given as a pointer to its field in the loaded
// settings, or as its Go field name (older callers); nil when it is none.
func (s *Set) fieldOf(setting any) *field {
	name, _ := setting.(string)
	var addr uintptr
	if rv := reflect.ValueOf(setting); rv.Kind() == reflect.Pointer {
		addr = rv.Pointer()
	}
	for _, f := range s.fields {
		if f.name == name && name != "" || addr != 0 && f.val.Addr().Pointer() == addr {
			return f
		}
	}
	return nil
}

// Required reports a setting the verb needs that was not given (a rule
// such as "the probe needs the canary's URL"). Like Invalid it names the
// orb parameter, flag, env var and form; when an env var that is no
// setting is a near miss of the setting's own, it names that too.
func (s *Set) Required(setting any, cause, form string) error {
	f := s.fieldOf(setting)
	if f == nil {
		return s.Invalid(setting, "", cause, form)
	}
	return s.required(f, cause, form)
}

// Unreadable is the error for a path setting whose file err says cannot be
// read: "cannot read it: " and why.
func (s *Set) Unreadable(setting any, path string, err error, form string) error {
	return s.Invalid(setting, path, "cannot read it: "+PathCause(err).Error(), form)
}

// EmptyEnv is the error for an EnvName setting whose variable is empty:
// "$NAME is empty", then more, which says what needs it (", and ..." or
// "; ..."; "" for nothing).
func (s *Set) EmptyEnv(setting *EnvName, more, form string) error {
	return s.Invalid(setting, string(*setting), "$"+string(*setting)+" is empty"+more, form)
}

func (s *Set) required(f *field, cause, form string) error {
	e := s.invalid(f, "", cause).(*InputError)
	if form != "" {
		e.Form = form
	}
	var hints []string
	for _, st := range s.strays {
		if st.near == f {
			st.named = true
			hints = append(hints, fmt.Sprintf("%s is set but is not a setting; did you mean %s?", st.env, f.env))
		}
	}
	e.Hint = strings.Join(hints, " ")
	return e
}

// findStrays records the env vars with the verb's prefix that name none of
// its settings, each with the setting it is nearest to. An empty one is left
// out: empty means "the default" for a setting too, so it changes nothing.
func (s *Set) findStrays(env Env, prefix string) {
	own := map[string]*field{}
	var keys []string
	for _, f := range s.fields {
		if key, ok := strings.CutPrefix(f.env, prefix); ok {
			own[key] = f
			keys = append(keys, key)
		}
	}
	for _, kv := range Environ(env) {
		name, value, _ := strings.Cut(kv, "=")
		key, ok := strings.CutPrefix(name, prefix)
		if !ok || strings.TrimSpace(value) == "" || own[key] != nil || s.has(name) {
			continue
		}
		st := &stray{env: name}
		if c := suggest.Closest(key, keys); c != "" {
			st.near = own[c]
		}
		s.strays = append(s.strays, st)
	}
	sort.Slice(s.strays, func(i, j int) bool { return s.strays[i].env < s.strays[j].env })
}

// has reports whether name is the env var of one of the settings.
func (s *Set) has(name string) bool {
	for _, f := range s.fields {
		if f.env == name {
			return true
		}
	}
	return false
}

// Warn writes a warning for every env var with the verb's prefix that names
// none of its settings and was not named in an error already: it is
// ignored, and most likely a typo.
func (s *Set) Warn(w io.Writer) {
	if s == nil || w == nil {
		return
	}
	for _, st := range s.strays {
		if st.named {
			continue
		}
		hint := ""
		if st.near != nil {
			hint = fmt.Sprintf("; did you mean %s?", st.near.env)
		}
		fmt.Fprintf(w, "pmguard %s: warning: %s is set but is not a setting of pmguard %s, so it is ignored%s (pmguard help %s lists them)\n", s.verb, st.env, s.verb, hint, s.verb)
	}
}

// quotable is a rejected value as an error message may quote it: what has
// a credential's shape (a URL's user info and query values, parsed or not,
// a bearer token, a key=value secret) is hidden, since a bad value is as
// likely to hold a password as a good one; so is a scheme-less
// user:password@ prefix.
func quotable(value string) string {
	return bareUserinfoRe.ReplaceAllString(httpx.RedactText(value), "${1}REDACTED@")
}

var bareUserinfoRe = regexp.MustCompile(`(^|[\s/])[^\s/@:<]+:[^\s/@]+@`)

// OneLine rejects a setting holding a control character (a newline, a
// carriage return): such values go on a command line or into a marker name,
// where a second line would be read as something else.
func (s *Set) OneLine(settings ...*string) error {
	for _, v := range settings {
		if strings.ContainsFunc(*v, IsControl) {
			return s.Invalid(v, *v, "must be one line, without control characters", "")
		}
	}
	return nil
}

// Given reports whether a setting (a pointer to its field in the loaded
// settings) holds a value other than its default: the orb passes every
// parameter, so being set is not enough.
func (s *Set) Given(setting any) bool {
	f := s.fieldOf(setting)
	if f == nil || !s.defaults.IsValid() {
		return false
	}
	return !reflect.DeepEqual(f.val.Interface(), s.defaults.FieldByIndex(f.index).Interface())
}

// Ignored warns on w that a given setting is ignored, and why, naming its
// orb parameter, flag and env var: a setting that means something elsewhere
// (another source's, say) is no error, but must not be dropped silently.
func (s *Set) Ignored(w io.Writer, setting any, why string) {
	f := s.fieldOf(setting)
	if f == nil || w == nil {
		return
	}
	flag := ""
	if f.flag != "" {
		flag = "flag --" + f.flag + ", "
	}
	fmt.Fprintf(w, "pmguard %s: warning: %s (%senv %s) is ignored: %s\n", s.verb, f.param, flag, f.env, why)
}

// EnvVar returns the env var name of the setting held in the Go field name.
func (s *Set) EnvVar(name string) string {
	for _, f := range s.fields {
		if f.name == name {
			return f.env
		}
	}
	return ""
}

// Usage prints every flag with its env var, accepted form and default,
// grouped by the settings' group tags in the order they are declared.
func (s *Set) Usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: pmguard %s [flags]\n\nEvery flag has an env var; flags override env, env overrides defaults.\n", s.verb)
	var groups []string
	byGroup := map[string][]*field{}
	for _, f := range s.fields {
		if f.flag == "" {
			continue
		}
		g := f.group
		if g == "" {
			g = "Settings"
		}
		if byGroup[g] == nil {
			groups = append(groups, g)
		}
		byGroup[g] = append(byGroup[g], f)
	}
	// The verb's own settings first, then the shared groups (event log,
	// reports) that every verb embeds.
	sort.SliceStable(groups, func(i, j int) bool { return groups[i] == "Settings" && groups[j] != "Settings" })
	for _, g := range groups {
		fmt.Fprintf(w, "\n%s:\n", g)
		s.usageOf(w, byGroup[g])
	}
}

func (s *Set) usageOf(w io.Writer, fields []*field) {
	for _, f := range fields {
		fmt.Fprintf(w, "  --%s %s\n", f.flag, f.typname)
		fmt.Fprintf(w, "        %s\n", f.usage)
		extra := "env " + f.env
		if f.def != "" {
			extra += ", default " + strconv.Quote(f.def)
		}
		if f.form != "" && f.form != "true or false" {
			extra += "; " + f.form
		}
		fmt.Fprintf(w, "        (%s)\n", extra)
	}
}

// collector gathers a flag's values: a list setting keeps every value given
// (one per line), any other setting keeps the last, as most CLIs do.
type collector struct {
	key    string
	given  map[string][]string
	isBool bool
	isList bool
}

func (c *collector) String() string { return "" }
func (c *collector) Set(v string) error {
	if !c.isList {
		c.given[c.key] = nil
	}
	c.given[c.key] = append(c.given[c.key], v)
	return nil
}
func (c *collector) IsBoolFlag() bool { return c.isBool }

// ValueError is returned by the value types' decoders; Msg says what is wrong.
type ValueError struct{ Msg string }

func (e *ValueError) Error() string { return e.Msg }

func valueErrorf(format string, a ...any) error { return &ValueError{Msg: fmt.Sprintf(format, a...)} }
