package main

import (
	"context"

	"github.com/pmguard/pmguard/internal/dora"
	"github.com/pmguard/pmguard/internal/notify"
	"github.com/pmguard/pmguard/internal/verb"
)

// doraSettings are the settings doraNotice reads.
type doraSettings = dora.Settings

func (a *app) dora(ctx context.Context, args []string) error {
	d := a.deps()
	o, err := dora.New(ctx, d, args)
	if err != nil {
		return err
	}
	if s := o.Settings; s.SlackChannel != "" {
		o.Slack = func(ctx context.Context, text string) error { return doraNotice(ctx, d, s, text) }
	}
	return dora.Run(ctx, o)
}

// doraNotice posts the summary into the Slack channel as a notice of its own.
func doraNotice(ctx context.Context, d *verb.Deps, s doraSettings, text string) error {
	log, err := d.Events(s.EventsFile)
	if err != nil {
		return err
	}
	return notify.NewPoster(d, log).Post(ctx, notify.Notice{Channel: s.SlackChannel, TokenEnv: s.SlackTokenEnv, Text: text})
}
