// Command pmguard guards production deploys on CircleCI and turns incidents
// into blameless post-mortems. Every verb reads its settings from flags and
// PMGUARD_* env vars and exits 0 pass, 1 fail, 2 bad input, 3 could not run.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"

	"github.com/pmguard/pmguard/internal/canary"
	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/exitcode"
	"github.com/pmguard/pmguard/internal/followups"
	"github.com/pmguard/pmguard/internal/health"
	"github.com/pmguard/pmguard/internal/migrations"
	"github.com/pmguard/pmguard/internal/notify"
	"github.com/pmguard/pmguard/internal/postmortem"
	"github.com/pmguard/pmguard/internal/rollback"
	"github.com/pmguard/pmguard/internal/suggest"
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
	example string // shown under pmguard help VERB
	run     func(a *app, ctx context.Context, args []string) error
}

func (a *app) verbs() map[string]command {
	return map[string]command{
		"health": {"poll health endpoints after a deploy",
			"pmguard health --endpoint https://api.example.com/health --retries 3 --interval 10s", runs(health.New, health.Run)},
		"canary": {"judge a canary's error rate and latency with a sequential test",
			"pmguard canary --url https://canary.example.com/health --error-threshold 2% --latency-threshold 500ms", runs(canary.New, canary.Run)},
		"rollback": {"trigger the rollback pipeline through the CircleCI API, exactly once",
			"CIRCLE_TOKEN=... pmguard rollback --version previous --wait", runs(rollback.New, rollback.Run)},
		"notify": {"post Slack incident notices, one thread per incident",
			"SLACK_ACCESS_TOKEN=... pmguard notify --channel C0123456789 --template DEPLOY_FAILED", runs(notify.New, notify.Run)},
		"postmortem": {"write the incident timeline and a blameless post-mortem draft",
			"pmguard postmortem --event-log events/ --incident-file incident.yml --output-dir postmortem", runs(postmortem.New, postmortem.Run)},
		"followups": {"keep the post-mortem's action items as GitHub or Jira issues; report overdue ones",
			"GITHUB_TOKEN=... pmguard followups --incident-file incident.yml --postmortem-dir postmortem", runs(followups.New, followups.Run)},
		"dora": {"compute DORA metrics from CircleCI history",
			"CIRCLE_TOKEN=... pmguard dora --project-slug gh/acme/api --window 30d", (*app).dora},
		"migrations": {"block migrations that would break the code still running",
			"pmguard migrations --base origin/main --migrations 'db/migrate/*.sql'", runs(migrations.New, migrations.Run)},
		"demo": {"run the guards against a sample service on loopback",
			"pmguard demo", (*app).demo},
		"version": {"print version, commit and build date",
			"pmguard version", (*app).printVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	v, c, d := buildInfo(version, commit, date)
	a := &app{env: config.OSEnv(), stdout: os.Stdout, stderr: os.Stderr, version: v, commit: c, date: d}
	code := a.main(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// main runs one verb and returns its exit code.
func (a *app) main(ctx context.Context, args []string) int {
	verbs := a.verbs()
	if len(args) == 0 {
		a.usage(verbs)
		return exitcode.BadInput
	}
	switch args[0] {
	case "-h", "--help", "help":
		if len(args) > 1 && args[0] == "help" {
			// pmguard help VERB is pmguard VERB --help.
			args = []string{args[1], "--help"}
			break
		}
		a.usage(verbs)
		return exitcode.Pass
	case "--version", "-v":
		args[0] = "version"
	}
	v, ok := verbs[args[0]]
	if !ok {
		names := make([]string, 0, len(verbs))
		for n := range verbs {
			names = append(names, n)
		}
		hint := ""
		if c := suggest.Closest(args[0], names); c != "" {
			hint = fmt.Sprintf("; did you mean %q?", c)
		}
		fmt.Fprintf(a.stderr, "pmguard: unknown verb %q%s (pmguard help lists them)\n", args[0], hint)
		return exitcode.BadInput
	}
	help := slices.ContainsFunc(args[1:], func(s string) bool { return s == "-h" || s == "--help" || s == "-help" })
	if help {
		fmt.Fprintf(a.stdout, "pmguard %s: %s\n\nExample:\n  %s\n\n", args[0], v.summary, v.example)
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
	fmt.Fprintf(a.stdout, "pmguard %s: guard CircleCI deploys and turn incidents into post-mortems\n\nUsage: pmguard <verb> [flags]   (pmguard help <verb> for its settings)\n\n", a.version)
	for _, n := range slices.Sorted(maps.Keys(verbs)) {
		fmt.Fprintf(a.stdout, "  %-11s %s\n", n, verbs[n].summary)
	}
	fmt.Fprintf(a.stdout, "\nExit codes: 0 pass, 1 verdict fail, 2 bad input, 3 could not run.\n")
}

// printVersion takes no settings; any argument is a mistake worth saying.
func (a *app) printVersion(_ context.Context, args []string) error {
	if len(args) > 0 {
		if args[0] == "-h" || args[0] == "--help" {
			return config.ErrHelp
		}
		return config.Invalidf("pmguard version: unexpected argument %q: version takes none", args[0])
	}
	fmt.Fprintf(a.stdout, "pmguard %s (commit %s, built %s)\n", a.version, a.commit, a.date)
	return nil
}

// buildInfo fills what the release did not stamp from what Go embeds in
// every binary built from a module checkout: the module version and the VCS
// revision and time.
func buildInfo(version, commit, date string) (string, string, string) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return version, commit, date
	}
	if version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		version = bi.Main.Version
	}
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if commit == "none" {
				commit = s.Value
				if len(commit) > 12 {
					commit = commit[:12]
				}
			}
		case "vcs.time":
			if date == "unknown" {
				date = s.Value
			}
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified && !strings.HasSuffix(commit, "-dirty") && commit != "none" {
		commit += "-dirty"
	}
	return version, commit, date
}

// runs adapts a verb's New and Run, the one shape every verb has, to the
// verb table.
func runs[O any](newf func(context.Context, *verb.Deps, []string) (*O, error), run func(context.Context, *O) error) func(*app, context.Context, []string) error {
	return func(a *app, ctx context.Context, args []string) error {
		d := a.deps()
		// Everything a verb prints, and its final error, passes the run's
		// redactor: a secret that reaches a message by any path stays hidden.
		stdout, stderr := d.Redactor.SecretWriter(a.stdout), d.Redactor.SecretWriter(a.stderr)
		d.Stdout, d.Stderr = stdout, stderr
		defer stderr.Flush()
		defer stdout.Flush()
		o, err := newf(ctx, d, args)
		if err == nil {
			err = run(ctx, o)
		}
		return d.Redactor.Error(err)
	}
}

// deps is the shared dependency set the verbs are built with.
func (a *app) deps() *verb.Deps {
	return verb.New(a.env, a.stdout, a.stderr, a.version)
}
