package main

import (
	"context"
	"fmt"

	"github.com/pmguard/pmguard/internal/canary"
	"github.com/pmguard/pmguard/internal/exitcode"
	"github.com/pmguard/pmguard/internal/httpx"
)

func (a *app) canary(ctx context.Context, args []string) error {
	var s canary.Settings
	set, err := a.load(ctx, "canary", args, &s)
	if err != nil {
		return err
	}
	redactor := httpx.NewRedactor()
	// Metric queries retry twice within one interval; the judge counts the
	// reads that still fail against source_error_limit.
	plan, err := canary.Validate(&s, set, a.env, httpx.Options{
		Version:  a.version,
		Retries:  2,
		Redactor: redactor,
		Log:      func(msg string) { fmt.Fprintln(a.stderr, "pmguard canary: "+msg) },
	})
	if err != nil {
		return redactor.Error(err)
	}
	redactor.Add(plan.Secrets...)
	log, err := a.openEvents(s.EventsFile)
	if err != nil {
		return err
	}
	log.Redact = redactor.Redact
	err = canary.Run(ctx, canary.Options{
		Plan:      plan,
		Reports:   s.Reports,
		UserAgent: "pmguard/" + a.version,
		Out:       a.stdout,
		Events:    log,
		Redact:    redactor.Redact,
	})
	if err != nil && exitcode.Of(err) != exitcode.Fail {
		return redactor.Error(err)
	}
	return err
}
