package main

import (
	"context"
	"fmt"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/exitcode"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/rollback"
)

func (a *app) rollback(ctx context.Context, args []string) error {
	var s rollback.Settings
	set, err := a.load(ctx, "rollback", args, &s)
	if err != nil {
		return err
	}
	opts, err := rollback.FromSettings(&s, set, a.env)
	if err != nil {
		return err
	}
	hc := a.httpClient(httpx.Options{})
	co := circleci.Options{TokenEnv: string(s.TokenEnv), HTTP: hc}
	if s.DryRun {
		co.DryRun = func(r circleci.Request) {
			fmt.Fprintf(a.stdout, "Would send: %s %s\n  Circle-Token: [REDACTED]\n", r.Method, r.Path)
			if len(r.Body) > 0 {
				fmt.Fprintf(a.stdout, "  %s\n", hc.Redactor().Redact(string(r.Body)))
			}
		}
	}
	client, err := circleci.FromEnv(a.env, co)
	if err != nil {
		return err
	}
	log, err := a.openEvents(s.EventsFile)
	if err != nil {
		return err
	}
	log.Redact = hc.Redactor().Redact
	opts.Client, opts.Events, opts.Out = client, log, a.stdout
	_, err = rollback.Run(ctx, opts)
	if err != nil && exitcode.Of(err) != exitcode.Fail {
		return hc.Redactor().Error(err)
	}
	return err
}
