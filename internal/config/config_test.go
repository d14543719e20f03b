package config

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

type testSettings struct {
	Shared
	Reports
	Interval Duration  `env:"INTERVAL, default=10s" flag:"interval" usage:"wait between attempts"`
	Retries  Count     `env:"RETRIES, default=3" flag:"retries" usage:"attempts after the first"`
	Expect   StatusSet `env:"EXPECT_STATUS, default=200" flag:"expect-status" usage:"statuses that pass"`
	Rate     Percent   `env:"ERROR_THRESHOLD, default=2%" flag:"error-threshold" usage:"max error rate"`
	Headers  Lines     `env:"HEADERS" flag:"header" usage:"a request header"`
	Insecure bool      `env:"INSECURE" flag:"insecure" usage:"skip TLS verification"`
	Channel  string    `env:"CHANNEL, default=$SLACK_DEFAULT_CHANNEL" flag:"channel" usage:"channel"`
	Token    EnvName   `env:"TOKEN_ENV, default=CIRCLE_TOKEN" flag:"token-env" usage:"env var holding the token"`
}

func load(t *testing.T, env map[string]string, args ...string) (testSettings, error) {
	t.Helper()
	var s testSettings
	_, _, err := Load(context.Background(), "health", args, MapEnv(env), &s, &bytes.Buffer{})
	return s, err
}

func TestLoadDefaultsEnvFlags(t *testing.T) {
	s, err := load(t, map[string]string{"SLACK_DEFAULT_CHANNEL": "ops"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Interval.Duration != 10*time.Second || s.Retries != 3 || !s.Expect.Contains(200) || s.Expect.Contains(201) || s.Rate != 0.02 || s.Channel != "ops" || s.Token != "CIRCLE_TOKEN" {
		t.Fatalf("defaults: %+v", s)
	}
	env := map[string]string{
		"PMGUARD_HEALTH_INTERVAL": "2s", "PMGUARD_HEALTH_RETRIES": "5",
		"PMGUARD_EVENTS_FILE": "/tmp/ev.jsonl", "PMGUARD_HEALTH_EXPECT_STATUS": "2xx",
		"PMGUARD_HEALTH_RETRIES_UNUSED": "x", "PMGUARD_HEALTH_JUNIT": "",
	}
	s, err = load(t, env, "--interval=500ms", "--header", "A: 1", "--header", "B: 2", "--insecure")
	if err != nil {
		t.Fatal(err)
	}
	if s.Interval.Duration != 500*time.Millisecond { // flag beats env
		t.Errorf("interval %v", s.Interval)
	}
	if s.Retries != 5 || s.EventsFile != "/tmp/ev.jsonl" || !s.Expect.Contains(204) || !s.Insecure {
		t.Errorf("env values: %+v", s)
	}
	if strings.Join(s.Headers, "|") != "A: 1|B: 2" {
		t.Errorf("repeated flag: %q", s.Headers)
	}
	// An empty env var, as the orb passes for an unset parameter, means the default.
	s, err = load(t, map[string]string{"PMGUARD_HEALTH_INTERVAL": ""})
	if err != nil || s.Interval.Duration != 10*time.Second {
		t.Fatalf("empty env: %v %v", s.Interval, err)
	}
}

func TestLoadRejects(t *testing.T) {
	cases := []struct {
		env  map[string]string
		args []string
		want []string
	}{
		{map[string]string{"PMGUARD_HEALTH_INTERVAL": "10x"}, nil,
			[]string{`invalid interval "10x"`, "--interval", "PMGUARD_HEALTH_INTERVAL", "Go duration"}},
		{nil, []string{"--retries", "-1"},
			[]string{`invalid retries "-1"`, "PMGUARD_HEALTH_RETRIES", "0 or more"}},
		{map[string]string{"PMGUARD_HEALTH_EXPECT_STATUS": "2zz"}, nil,
			[]string{"expect_status", "PMGUARD_HEALTH_EXPECT_STATUS", "2xx"}},
		{map[string]string{"PMGUARD_HEALTH_ERROR_THRESHOLD": "120%"}, nil,
			[]string{"error_threshold", "out of range", "2%"}},
		{map[string]string{"PMGUARD_HEALTH_INSECURE": "yes please"}, nil,
			[]string{"insecure", "true or false"}},
		{map[string]string{"PMGUARD_HEALTH_TOKEN_ENV": "$CIRCLE_TOKEN"}, nil,
			[]string{"token_env", "name of an environment variable"}},
		{nil, []string{"--no-such-flag"}, []string{"no-such-flag"}},
	}
	for _, c := range cases {
		_, err := load(t, c.env, c.args...)
		if err == nil {
			t.Errorf("%v %v: accepted", c.env, c.args)
			continue
		}
		if !isBadInput(err) {
			t.Errorf("%v: not bad input", err)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q lacks %q", err, w)
			}
		}
	}
}

func TestHelpShowsEnvAndDefaults(t *testing.T) {
	var s testSettings
	var out bytes.Buffer
	_, _, err := Load(context.Background(), "health", []string{"--help"}, MapEnv(nil), &s, &out)
	if !errors.Is(err, ErrHelp) {
		t.Fatalf("err %v", err)
	}
	for _, w := range []string{"--interval", "PMGUARD_HEALTH_INTERVAL", `default "10s"`, "PMGUARD_EVENTS_FILE", "--junit"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("help lacks %q:\n%s", w, out.String())
		}
	}
}

func TestStatusSet(t *testing.T) {
	s, err := ParseStatusSet("200-299, 301 ,4xx")
	if err != nil {
		t.Fatal(err)
	}
	for code, want := range map[int]bool{200: true, 250: true, 300: false, 301: true, 404: true, 500: false} {
		if s.Contains(code) != want {
			t.Errorf("%d: %v", code, !want)
		}
	}
	for _, bad := range []string{"", "abc", "700", "300-200", "6xx"} {
		if _, err := ParseStatusSet(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func isBadInput(err error) bool {
	var ie *InputError
	var iv *InvalidError
	return errors.As(err, &ie) || errors.As(err, &iv)
}

// Invalid takes the setting as a pointer to its field and names the orb
// parameter (the orb tag when the orb spells it differently), flag and env var.
func TestInvalidByField(t *testing.T) {
	var s struct {
		Expect string `env:"EXPECT_STATUS" orb:"expected_status" flag:"expect-status"`
		Rate   Count  `env:"RATE" flag:"rate"`
	}
	set, _, err := Load(context.Background(), "health", []string{"--rate", "5", "--rate", "7"}, MapEnv(nil), &s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Rate != 7 {
		t.Errorf("a repeated scalar flag: rate %d, want the last (7)", s.Rate)
	}
	got := set.Invalid(&s.Expect, "abc", "bad", "").Error()
	for _, want := range []string{"invalid expected_status", "--expect-status", "PMGUARD_HEALTH_EXPECT_STATUS"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
}

func TestEmptyEnvNamesTheVariableAndTheSetting(t *testing.T) {
	var s struct {
		TokenEnv EnvName `env:"TOKEN_ENV, default=CIRCLE_TOKEN" flag:"token-env"`
	}
	set, _, err := Load(context.Background(), "dora", nil, MapEnv(nil), &s, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := set.EmptyEnv(&s.TokenEnv, "; reading needs a token", "").Error()
	for _, want := range []string{"$CIRCLE_TOKEN is empty; reading needs a token", "--token-env", "PMGUARD_DORA_TOKEN_ENV"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
	if !errors.As(set.EmptyEnv(&s.TokenEnv, "", ""), new(*InputError)) {
		t.Error("not bad input")
	}
}

func TestUnreadableSaysWhyWithoutThePathTwice(t *testing.T) {
	var s struct {
		Incident string `env:"INCIDENT_FILE" flag:"incident-file"`
	}
	set, _, err := Load(context.Background(), "followups", nil, MapEnv(nil), &s, nil)
	if err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "incident.yml")
	_, serr := os.Stat(missing)
	got := set.Unreadable(&s.Incident, missing, serr, "").Error()
	if !strings.Contains(got, "cannot read it: no such file or directory") || strings.Count(got, missing) != 1 {
		t.Errorf("%q", got)
	}
}

func TestRateMarginOptPercent(t *testing.T) {
	ctx := context.Background()
	for in, want := range map[string]float64{"10": 10, " 10/s ": 10, "600/m": 10, "120/min": 2} {
		var r Rate
		if err := r.EnvDecode(ctx, in); err != nil || float64(r) != want {
			t.Errorf("Rate %q = %v, %v; want %v", in, r, err, want)
		}
	}
	for in, msg := range map[string]string{"10/h": "unknown unit", "ten": "not a rate", "0": "out of range", "100001": "out of range"} {
		var r Rate
		if err := r.EnvDecode(ctx, in); err == nil || err.Error() != msg {
			t.Errorf("Rate %q: %v, want %q", in, err, msg)
		}
	}
	for in, want := range map[string]float64{"50%": 0.5, "0.5": 0.5, "200%": 2, "3": 3} {
		var m Margin
		if err := m.EnvDecode(ctx, in); err != nil || float64(m) != want {
			t.Errorf("Margin %q = %v, %v; want %v", in, m, err, want)
		}
	}
	for in, msg := range map[string]string{"half": "not a percentage", "0%": "out of range", "101": "out of range"} {
		var m Margin
		if err := m.EnvDecode(ctx, in); err == nil || err.Error() != msg {
			t.Errorf("Margin %q: %v, want %q", in, err, msg)
		}
	}
	for in, want := range map[string]float64{"": 0, " ": 0, "5%": 0.05, "0.1": 0.1} {
		var o OptPercent
		if err := o.EnvDecode(ctx, in); err != nil || float64(o) != want {
			t.Errorf("OptPercent %q = %v, %v; want %v", in, o, err, want)
		}
	}
	for in, msg := range map[string]string{"0%": "0% is no share; leave it empty for the default", "5": "5 without a % sign is ambiguous: write 5% or 0.05"} {
		var o OptPercent
		if err := o.EnvDecode(ctx, in); err == nil || err.Error() != msg {
			t.Errorf("OptPercent %q: %v, want %q", in, err, msg)
		}
	}
}

func TestParsePercent(t *testing.T) {
	for in, want := range map[string]float64{"2%": 0.02, "0.02": 0.02, " 25% \n": 0.25, "1": 1, "0": 0} {
		if got, err := ParsePercent(in); err != nil || got != want {
			t.Errorf("ParsePercent(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"25", "120%", "-1%", "x", "NaN"} {
		if _, err := ParsePercent(in); err == nil {
			t.Errorf("ParsePercent(%q) accepted", in)
		}
	}
}

// Secrets: the value of every *_env variable is a secret, unless the setting
// says it is not (a site name); URL credentials and query values too.
func TestSecrets(t *testing.T) {
	var s struct {
		TokenEnv EnvName `env:"TOKEN_ENV, default=MY_TOKEN"`
		SiteEnv  EnvName `env:"SITE_ENV, default=MY_SITE" secret:"no"`
		Hook     URL     `env:"HOOK"`
		Base     BaseURL `env:"BASE"`
	}
	env := MapEnv(map[string]string{"MY_TOKEN": "tok-123456\n", "MY_SITE": "datadoghq.eu", "PMGUARD_X_HOOK": "https://u:pw-98765@h.example/x?sig=abcdef", "PMGUARD_X_BASE": "https://ci:base-pw-1@h.example/api"})
	set, _, err := Load(context.Background(), "x", nil, env, &s, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := set.Secrets(&s, env)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	// The user info also as the Basic authorization sent for it.
	if strings.Join(got, ",") != "Y2k6YmFzZS1wdy0x,abcdef,base-pw-1,dTpwdy05ODc2NQ==,pw-98765,tok-123456" {
		t.Errorf("secrets %q", got)
	}
	bad := MapEnv(map[string]string{"MY_TOKEN": "tok\n123456"})
	set, _, _ = Load(context.Background(), "x", nil, bad, &s, nil)
	if _, err := set.Secrets(&s, bad); err == nil || !strings.Contains(err.Error(), "control character") || !strings.Contains(err.Error(), "PMGUARD_X_TOKEN_ENV") {
		t.Errorf("a token with a newline inside: %v", err)
	}
}

// TestEveryTypeTakesCircleCIsTrailingNewline: a CircleCI parameter (a
// multi-line string, a value from a context) often ends in a newline or
// carries surrounding spaces; every type reads it the same way.
func TestEveryTypeTakesCircleCIsTrailingNewline(t *testing.T) {
	env := map[string]string{
		"PMGUARD_HEALTH_INTERVAL": " 2s\n", "PMGUARD_HEALTH_RETRIES": "5\n",
		"PMGUARD_HEALTH_EXPECT_STATUS": "2xx\n", "PMGUARD_HEALTH_ERROR_THRESHOLD": "5%\n",
		"PMGUARD_HEALTH_INSECURE": "true\n", "PMGUARD_HEALTH_CHANNEL": " ops\n",
		"PMGUARD_HEALTH_TOKEN_ENV": "MY_TOKEN\n", "PMGUARD_HEALTH_HEADERS": "A: 1\n",
	}
	s, err := load(t, env)
	if err != nil {
		t.Fatal(err)
	}
	if s.Interval.Duration != 2*time.Second || s.Retries != 5 || !s.Expect.Contains(204) || s.Rate != 0.05 ||
		!s.Insecure || s.Channel != "ops" || s.Token != "MY_TOKEN" || strings.Join(s.Headers, "|") != "A: 1" {
		t.Errorf("values with CircleCI's trailing newline: %+v", s)
	}
}

// lookupOnly is an Env that cannot list its variables.
type lookupOnly struct{}

func (lookupOnly) Lookup(string) (string, bool) { return "x", true }

func TestEnviron(t *testing.T) {
	if got := strings.Join(Environ(MapEnv(map[string]string{"B": "2", "A": "1=one"})), " "); got != "A=1=one B=2" {
		t.Errorf("map environment: %q", got)
	}
	t.Setenv("PMGUARD_CONFIG_TEST", "set")
	found := false
	for _, kv := range Environ(OSEnv()) {
		found = found || kv == "PMGUARD_CONFIG_TEST=set"
	}
	if !found {
		t.Error("the process environment misses PMGUARD_CONFIG_TEST")
	}
	// Empty, not nil: a nil exec.Cmd.Env would hand the child this process's.
	if got := Environ(lookupOnly{}); got == nil || len(got) != 0 {
		t.Errorf("an environment that cannot list: %q", got)
	}
}

// A list item may start with '#': Slack channels are written "#deploys".
func TestListKeepsHashItems(t *testing.T) {
	var l List
	if err := l.EnvDecode(context.Background(), "#deploys, ops\n C0123 ,,\n"); err != nil {
		t.Fatal(err)
	}
	if want := (List{"#deploys", "ops", "C0123"}); !reflect.DeepEqual(l, want) {
		t.Errorf("got %q, want %q", l, want)
	}
}

// TestURLSettings: a URL setting rejects what cannot be dialled or what a
// base URL cannot take, and its error never quotes the URL's password or
// query values, parsed or not.
func TestURLSettings(t *testing.T) {
	var s struct {
		Hook URL     `env:"HOOK" flag:"hook"`
		Base BaseURL `env:"BASE" flag:"base"`
	}
	cases := []struct {
		name, value, want string
	}{
		{"HOOK", "https://u:pw-Secret1@h.example:99999/x", "port 99999"},
		{"HOOK", "https://u:pw-Secret1@h.example:0/x", "port 0"},
		{"HOOK", "ftp://u:pw-Secret1@h.example/x", "scheme"},
		{"HOOK", "https://u:pw-Secret1@:443/x", "no host"},
		{"HOOK", "https://u:pw-Secret1@h.example/%zz?k=pw-Secret1", "not a URL"},
		{"BASE", "https://h.example/api?k=pw-Secret1", "no query"},
		{"BASE", "https://u:pw-Secret1@h.example/api#frag", "no query"},
		{"HOOK", "u:pw-Secret1@h.example/x", "scheme"},
		{"HOOK", "https://h.example/%zz?tok=pw-Secret1 Bearer pw-Secret1", "not a URL"},
	}
	for _, c := range cases {
		env := MapEnv(map[string]string{"PMGUARD_X_" + c.name: c.value})
		_, _, err := Load(context.Background(), "x", nil, env, &s, nil)
		if err == nil {
			t.Errorf("%s=%q accepted", c.name, c.value)
			continue
		}
		if !isBadInput(err) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "PMGUARD_X_"+c.name) {
			t.Errorf("%s=%q: %v, want bad input naming the variable and %q", c.name, c.value, err, c.want)
		}
		if strings.Contains(err.Error(), "pw-Secret1") {
			t.Errorf("%s=%q: the error quotes the secret: %v", c.name, c.value, err)
		}
	}
	env := MapEnv(map[string]string{"PMGUARD_X_HOOK": "https://h.example:8443/x?a=1", "PMGUARD_X_BASE": "https://h.example/api/"})
	if _, _, err := Load(context.Background(), "x", nil, env, &s, nil); err != nil {
		t.Fatalf("good URLs rejected: %v", err)
	}
	if s.Hook.Port() != "8443" || s.Base.Path != "/api/" {
		t.Errorf("parsed %v %v", s.Hook.URL, s.Base.URL)
	}
}

func TestParseURLPort(t *testing.T) {
	for _, ok := range []string{"http://h/", "https://h:1/x", "http://127.0.0.1:65535/h", "http://[::1]:8080/"} {
		if _, err := ParseURL(ok); err != nil {
			t.Errorf("ParseURL(%s) = %v", ok, err)
		}
	}
	for _, bad := range []string{"http://127.0.0.1:99999/h", "http://h:0/", "https://h:65536", "http://[::1]:70000/"} {
		if _, err := ParseURL(bad); err == nil || !strings.Contains(err.Error(), "not between 1 and 65535") {
			t.Errorf("ParseURL(%s) = %v, want a bad port", bad, err)
		}
	}
}

// TestGiven: a setting is given when it holds other than its default, so
// the orb passing every parameter at its default gives none of them.
func TestGiven(t *testing.T) {
	env := map[string]string{
		"PMGUARD_HEALTH_INTERVAL": "10s", "PMGUARD_HEALTH_RETRIES": "5", "PMGUARD_HEALTH_INSECURE": "false",
		"PMGUARD_HEALTH_EXPECT_STATUS": "200", "PMGUARD_HEALTH_HEADERS": "A: 1",
	}
	var s testSettings
	set, _, err := Load(context.Background(), "health", []string{"--token-env", "MY_TOKEN"}, MapEnv(env), &s, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		setting any
		want    bool
	}{
		"interval at its default": {&s.Interval, false}, "retries": {&s.Retries, true}, "insecure false": {&s.Insecure, false},
		"expect_status at its default": {&s.Expect, false}, "headers": {&s.Headers, true}, "token_env by flag": {&s.Token, true},
		"error_threshold unset": {&s.Rate, false},
	} {
		if got := set.Given(c.setting); got != c.want {
			t.Errorf("%s: Given %v, want %v", name, got, c.want)
		}
	}
	var w strings.Builder
	set.Ignored(&w, &s.Headers, "it is for the probe")
	if got := w.String(); got != "pmguard health: warning: headers (flag --header, env PMGUARD_HEALTH_HEADERS) is ignored: it is for the probe\n" {
		t.Errorf("warning %q", got)
	}
}

// A rejected value is quoted as the user wrote it, not as it was parsed;
// a part of a value a caller names (one list item) is quoted as given.
func TestInvalidQuotesTheValueAsWritten(t *testing.T) {
	var s struct {
		Window Days     `env:"WINDOW, default=30d" flag:"window"`
		Wait   Duration `env:"WAIT, default=10s" flag:"wait"`
		Logs   List     `env:"LOGS" flag:"logs"`
	}
	set, _, err := Load(context.Background(), "dora", []string{"--window", "0d"}, MapEnv(map[string]string{"PMGUARD_DORA_LOGS": "a.jsonl,b.jsonl"}), &s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := set.Invalid(&s.Window, s.Window.String(), "out of range", "").Error(); !strings.Contains(got, `window "0d"`) {
		t.Errorf("the flag's value is not quoted as written: %q", got)
	}
	if got := set.Invalid(&s.Logs, "b.jsonl", "cannot read it", "").Error(); !strings.Contains(got, `logs "b.jsonl"`) {
		t.Errorf("the item the caller named is not quoted: %q", got)
	}
	if got := set.Invalid(&s.Wait, s.Wait.String(), "too short", "").Error(); !strings.Contains(got, `wait "10s"`) {
		t.Errorf("a default is not quoted as it is: %q", got)
	}
}
