package main

import (
	"context"

	"github.com/pmguard/pmguard/internal/jobenv"
	"github.com/pmguard/pmguard/internal/notify"
)

func (a *app) notify(ctx context.Context, args []string) error {
	var s notify.Settings
	set, err := a.load(ctx, "notify", args, &s)
	if err != nil {
		return err
	}
	log, err := a.openEvents(s.EventsFile)
	if err != nil {
		return err
	}
	return notify.Run(ctx, notify.Options{
		Settings: s,
		Set:      set,
		Env:      a.env,
		Job:      jobenv.FromEnv(a.env),
		Events:   log,
		Out:      a.stdout,
		Err:      a.stderr,
		Subject:  notify.GitSubject("."),
		Version:  a.version,
	})
}
