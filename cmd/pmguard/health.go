package main

import (
	"context"
	"net/http"

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
	tlsConf, err := httpx.TLSConfig(string(s.CAFile), string(s.ClientCert), string(s.ClientKey), s.Insecure)
	if err != nil {
		return set.Invalid("CAFile", string(s.CAFile), err.Error(), "PEM files: ca_file with CA certificates, client_cert and client_key as a pair")
	}
	redactor := httpx.NewRedactor(plan.Secrets...)
	log, err := a.openEvents(s.EventsFile)
	if err != nil {
		return err
	}
	log.Redact = redactor.Redact
	client := &http.Client{Transport: httpx.NewTransport(tlsConf)}
	if s.NoFollow {
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	err = health.Run(ctx, health.Options{
		Plan:      plan,
		Reports:   s.Reports,
		HTTP:      client,
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
