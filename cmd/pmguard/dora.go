package main

import (
	"context"
	"encoding/json"
	"io"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/dora"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/jobenv"
	"github.com/pmguard/pmguard/internal/notify"
)

// doraSettings are the settings doraNotice reads.
type doraSettings = dora.Settings

func (a *app) dora(ctx context.Context, args []string) error {
	o, err := dora.New(ctx, a.deps(), args)
	if err != nil {
		return err
	}
	if s := o.Settings; s.SlackChannel != "" {
		o.Slack = func(ctx context.Context, text string) error { return a.doraNotice(ctx, s, text) }
	}
	return dora.Run(ctx, o)
}

// doraNotice posts the summary with the notify verb as a custom message, the
// text inserted JSON-escaped through an env var.
func (a *app) doraNotice(ctx context.Context, s doraSettings, text string) error {
	msg := map[string]any{
		"text":   "${PMGUARD_DORA_SUMMARY_TEXT}",
		"blocks": []any{map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": "${PMGUARD_DORA_SUMMARY_TEXT}"}}},
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	env := overlayEnv{under: a.env, over: map[string]string{
		"PMGUARD_NOTIFY_CHANNEL":    s.SlackChannel,
		"PMGUARD_NOTIFY_CUSTOM":     string(b),
		"PMGUARD_NOTIFY_EVENT":      "always",
		"PMGUARD_NOTIFY_THREAD":     "false",
		"PMGUARD_NOTIFY_TOKEN_ENV":  string(s.SlackTokenEnv),
		"PMGUARD_DORA_SUMMARY_TEXT": text,
	}}
	var ns notify.Settings
	set, _, err := config.Load(ctx, "notify", nil, env, &ns, io.Discard)
	if err != nil {
		return err
	}
	log, err := a.openEvents(s.EventsFile)
	if err != nil {
		return err
	}
	return notify.Run(ctx, notify.Options{Settings: ns, Set: set, Env: env, Job: jobenv.FromEnv(a.env), Events: log,
		Out: a.stdout, Err: a.stderr, Version: a.version})
}

func jsonLine(e events.Event) ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
