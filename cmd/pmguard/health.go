package main

import (
	"context"

	"github.com/pmguard/pmguard/internal/exitcode"
	"github.com/pmguard/pmguard/internal/health"
	"github.com/pmguard/pmguard/internal/httpx"
)

func (a *app) health(ctx context.Context, args []string) error {
	var s health.Settings
	set, err := a.load(ctx, "health", args, &s)
	if err != nil {
		return err
	}
	plan, err := health.Validate(&s, set, a.env)
	if err != nil {
		return err
	}
	redactor := httpx.NewRedactor(plan.Secrets...)
	log, err := a.openEvents(s.EventsFile)
	if err != nil {
		return err
	}
	log.Redact = redactor.Redact
	err = health.Run(ctx, health.Options{
		Plan:      plan,
		Reports:   s.Reports,
		HTTP:      plan.HTTPClient(),
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
