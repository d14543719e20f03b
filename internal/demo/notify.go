package demo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/human"
	"github.com/pmguard/pmguard/internal/notify"
)

// notify shows the Slack notice a pmguard/notify step would post after the
// steps before it, rendered from their event log. The demo has no Slack
// token, so nothing is sent: the message is printed as text, summed up as
// Block Kit, and written in full as JSON.
func (d *Demo) notify(ctx context.Context) error {
	evs, _, _ := events.ReadFiles(d.EventsFile)
	template, status := demoTemplate(evs)
	fmt.Fprintf(d.Out, "The job's step:  pmguard/notify: {event: always, channel: incidents, template: %s, mentions: \"<!subteam^S0123|oncall>\"}\n", template)
	fmt.Fprintln(d.Out, "No Slack token here, so this is the message it would send:")
	fmt.Fprintln(d.Out)

	settings := map[string]string{
		"PMGUARD_NOTIFY_TEMPLATE":   template,
		"PMGUARD_NOTIFY_CHANNEL":    "incidents",
		"PMGUARD_NOTIFY_MENTIONS":   "<!subteam^S0123|oncall>",
		"PMGUARD_NOTIFY_JOB_STATUS": status,
		"PMGUARD_EVENTS_FILE":       d.EventsFile,
	}
	o, err := notify.New(ctx, d.deps(settings, d.Out), nil)
	if err != nil {
		return err
	}
	o.Subject = func(context.Context, string) string { return "Speed up checkout (cache the price list)" }
	m, name, err := notify.Compose(ctx, o)
	if err != nil {
		return err
	}
	if name == "" {
		return nil // the settings say no notice is due; Compose said why
	}
	fmt.Fprint(d.Out, indent(notify.TextRendering(m)))
	path := filepath.Join(d.Dir, "slack-message.json")
	if err := os.WriteFile(path, append(m.JSON(), '\n'), 0o644); err != nil {
		return err
	}
	var kinds []string
	for _, b := range m.Blocks {
		kinds = append(kinds, fmt.Sprint(b["type"]))
	}
	fmt.Fprintf(d.Out, "\nBlock Kit: %d blocks (%s), %d bytes of JSON, fallback text %q\n", len(m.Blocks), strings.Join(kinds, ", "), len(m.JSON()), human.Clip(m.Text, 90))
	fmt.Fprintf(d.Out, "Full message: %s (paste it into Slack's Block Kit Builder)\n", path)
	fmt.Fprintln(d.Out, "With SLACK_ACCESS_TOKEN set it is posted; later notices of this pipeline reply in its thread and update its status line.")
	return nil
}

// demoTemplate picks the incident's first notice: the one the failing guard's
// own step posts (the demo's rollback is a dry run, so there is no rollback
// notice to show).
func demoTemplate(evs []events.Event) (string, string) {
	template, status := notify.DeploySucceeded, "pass"
	for _, e := range evs {
		switch e.Event {
		case events.HealthFailed:
			return notify.HealthCheckFailed, "fail"
		case events.CanaryFailed, events.CanaryInconclusive:
			return notify.CanaryFailed, "fail"
		case events.RollbackFailed:
			template, status = notify.DeployFailed, "fail"
		}
	}
	return template, status
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  │ " + l
	}
	return strings.Join(lines, "\n") + "\n"
}
