// Command pmguard guards production deploys on CircleCI and turns incidents
// into blameless post-mortems. Every verb reads its settings from flags and
// PMGUARD_* env vars and exits 0 pass, 1 fail, 2 bad input, 3 could not run.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/exitcode"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/jobenv"
	"github.com/pmguard/pmguard/internal/verb"
)

// Set at release time with -ldflags "-X main.version=... -X main.commit=... -X main.date=...".
var (
	version = "dev"
	commit  = "none"
	date    = "unknown"
)

// app holds what every verb depends on, so tests can run verbs in-process.
type app struct {
	env     config.Env
	stdout  io.Writer
	stderr  io.Writer
	version string
	commit  string
	date    string
}

type command struct {
	summary string
	run     func(a *app, ctx context.Context, args []string) error
}

func (a *app) verbs() map[string]command {
	return map[string]command{
		"health":     {"poll health endpoints after a deploy", (*app).health},
		"canary":     {"judge a canary's error rate and latency with a sequential test", (*app).canary},
		"rollback":   {"trigger the rollback pipeline through the CircleCI API, exactly once", (*app).rollback},
		"notify":     {"post Slack incident notices, one thread per incident", (*app).notify},
		"postmortem": {"write the incident timeline and a blameless post-mortem draft", (*app).postmortem},
		"dora":       {"compute DORA metrics from CircleCI history", (*app).dora},
		"migrations": {"block migrations that would break the code still running", (*app).migrations},
		"demo":       {"run the guards against a sample service on loopback", (*app).demo},
		"version":    {"print version, commit and build date", (*app).printVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	a := &app{env: config.OSEnv(), stdout: os.Stdout, stderr: os.Stderr, version: version, commit: commit, date: date}
	code := a.main(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// main runs one verb and returns its exit code.
func (a *app) main(ctx context.Context, args []string) int {
	verbs := a.verbs()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		a.usage(verbs)
		if len(args) == 0 {
			return exitcode.BadInput
		}
		return exitcode.Pass
	}
	if args[0] == "--version" || args[0] == "-v" {
		args[0] = "version"
	}
	v, ok := verbs[args[0]]
	if !ok {
		fmt.Fprintf(a.stderr, "pmguard: unknown verb %q; run pmguard --help for the list\n", args[0])
		return exitcode.BadInput
	}
	err := v.run(a, ctx, args[1:])
	if errors.Is(err, config.ErrHelp) {
		return exitcode.Pass
	}
	code := exitcode.Of(err)
	if err != nil {
		prefix := ""
		if !strings.HasPrefix(err.Error(), "pmguard") {
			prefix = "pmguard " + args[0] + ": "
		}
		switch code {
		case exitcode.Fail:
			fmt.Fprintf(a.stderr, "%sFAIL: %v\n", prefix, err)
		default:
			fmt.Fprintf(a.stderr, "%s%v\n", prefix, err)
		}
	}
	return code
}

func (a *app) usage(verbs map[string]command) {
	fmt.Fprintf(a.stdout, "pmguard %s: guard CircleCI deploys and turn incidents into post-mortems\n\nUsage: pmguard <verb> [flags]   (pmguard <verb> --help for its settings)\n\n", a.version)
	names := make([]string, 0, len(verbs))
	for n := range verbs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(a.stdout, "  %-11s %s\n", n, verbs[n].summary)
	}
	fmt.Fprintf(a.stdout, "\nExit codes: 0 pass, 1 verdict fail, 2 bad input, 3 could not run.\n")
}

func (a *app) printVersion(_ context.Context, _ []string) error {
	fmt.Fprintf(a.stdout, "pmguard %s (commit %s, built %s)\n", a.version, a.commit, a.date)
	return nil
}

// deps is the shared dependency set the verbs are built with.
func (a *app) deps() *verb.Deps {
	return verb.New(a.env, a.stdout, a.stderr, a.version)
}

// load parses a verb's settings from args and the environment into dst.
func (a *app) load(ctx context.Context, verb string, args []string, dst any) (*config.Set, error) {
	set, rest, err := config.Load(ctx, verb, args, a.env, dst, a.stdout)
	if err != nil {
		return set, err
	}
	if len(rest) > 0 {
		return set, config.Invalidf("pmguard %s: unexpected argument %q: settings are --flags or PMGUARD_%s_* env vars", verb, rest[0], strings.ToUpper(verb))
	}
	return set, nil
}

// openEvents opens the event log; failing to open it means pmguard cannot
// write its output (exit 3).
func (a *app) openEvents(path string) (*events.Log, error) {
	return events.Open(path, jobenv.FromEnv(a.env))
}

// httpClient builds the outbound client with pmguard's User-Agent.
func (a *app) httpClient(o httpx.Options) *httpx.Client {
	o.Version = a.version
	return httpx.New(o)
}
