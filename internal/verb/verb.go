// Package verb is the one shape every pmguard verb has, after the GitHub
// CLI's cmdutil.Factory habit: a Deps value carries what verbs depend on (the
// environment, IO streams, clock, the run's one redactor, the outbound HTTP
// client factory, the CircleCI client and the event log), each verb package
// exports
//
//	func New(ctx context.Context, d *verb.Deps, args []string) (*Options, error)
//	func Run(ctx context.Context, o *Options) error
//
// where New parses and validates the settings once (bad input is a
// config error, before any network call) and Run does the work. cmd/pmguard,
// the demo and tests all build verbs through New; nobody copies wiring.
package verb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/clock"
	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/jobenv"
)

// Deps is the shared dependency set of one run.
type Deps struct {
	Env    config.Env
	Stdout io.Writer
	Stderr io.Writer
	// Now and Sleep are the clock; tests drive them.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Redactor is the run's one redactor. Load feeds it every secret a
	// setting names; every client, report and the event log use it.
	Redactor *httpx.Redactor
	Job      jobenv.Job
	Version  string
	// Transport, when set, carries every outbound request (tests, demo).
	Transport http.RoundTripper
}

// New returns the dependency set of a process: the OS environment, real
// clock, a fresh redactor.
func New(env config.Env, stdout, stderr io.Writer, version string) *Deps {
	return &Deps{
		Env: env, Stdout: stdout, Stderr: stderr,
		Now: time.Now, Sleep: clock.Sleep,
		Redactor: httpx.NewRedactor(),
		Job:      jobenv.FromEnv(env),
		Version:  version,
	}
}

// Load parses a verb's settings from args and the environment into dst,
// warns of env vars with the verb's prefix that name no setting, rejects
// positional arguments, and registers every secret the settings name
// (env vars named by *_env settings, URL credentials) with the redactor.
func (d *Deps) Load(ctx context.Context, name string, args []string, dst any) (*config.Set, error) {
	set, rest, err := config.Load(ctx, name, args, d.Env, dst, d.Stdout)
	if !errors.Is(err, config.ErrHelp) {
		set.Warn(d.Stderr)
	}
	if err != nil {
		return set, err
	}
	if len(rest) > 0 {
		return set, config.Invalidf("pmguard %s: unexpected argument %q: settings are --flags or PMGUARD_%s_* env vars (see pmguard help %s)",
			name, rest[0], strings.ToUpper(name), name)
	}
	if sh, ok := dst.(interface{ Shown() []string }); ok {
		d.Redactor.ShowQuery(sh.Shown()...)
	}
	secrets, err := set.Secrets(dst, d.Env)
	d.Redactor.Add(secrets...)
	return set, err
}

// HTTP builds an outbound client with pmguard's policy, this run's
// User-Agent, redactor and transport.
func (d *Deps) HTTP(o httpx.Options) *httpx.Client {
	o.Version = d.Version
	o.Redactor = d.Redactor
	if o.Transport == nil {
		o.Transport = d.Transport
	}
	return httpx.New(o)
}

// Events opens the event log at path ("" discards), stamped with the job's
// context and redacted with the run's redactor.
func (d *Deps) Events(path string) (*events.Log, error) {
	l, err := events.Open(path, d.Job)
	if err != nil {
		return nil, err
	}
	l.Redact = d.Redactor.Redact
	return l, nil
}

// CircleCI builds the CircleCI API client: host from PMGUARD_CIRCLECI_HOST,
// token from the env var tokenEnv names (CIRCLE_TOKEN when empty). A missing
// token or a host that is not an http(s) URL is bad input.
func (d *Deps) CircleCI(tokenEnv string, o httpx.Options, dryRun func(circleci.Request)) (*circleci.Client, error) {
	return circleci.FromEnv(d.Env, circleci.Options{TokenEnv: tokenEnv, HTTP: d.HTTP(o), DryRun: dryRun})
}

// Getenv returns the environment variable k ("" when unset).
func (d *Deps) Getenv(k string) string { return config.Get(d.Env, k) }

// WithDeadline bounds a run by its deadline setting d (0: none): every
// request, retry and Retry-After wait made with the returned context ends
// by then (httpx never starts a wait that would end past it).
func WithDeadline(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

// DeadlineReached adds to err that the run's deadline d was reached, when
// ctx (from WithDeadline) ended by it.
func DeadlineReached(ctx context.Context, d time.Duration, err error) error {
	if err == nil || d <= 0 || !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w (the run's deadline, %s, was reached)", err, d)
}

// FillClockAndStreams gives Options built directly (tests, benchmarks)
// rather than through New the real clock and discarding streams.
func FillClockAndStreams(now *func() time.Time, streams ...*io.Writer) {
	if *now == nil {
		*now = time.Now
	}
	for _, w := range streams {
		if *w == nil {
			*w = io.Discard
		}
	}
}
