package demo

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/pmguard/pmguard/internal/postmortem"
)

// postmortem writes the blameless post-mortem draft of the incident the
// steps before it played, from their event log alone: no CircleCI token, no
// incident.yml yet, so the analysis sections are prompts for the team.
func (d *Demo) postmortem(ctx context.Context) error {
	out := filepath.Join(d.Dir, "postmortem")
	fmt.Fprintln(d.Out, "The job's step:  pmguard/postmortem (after the rollback), reading the event log above.")
	fmt.Fprintln(d.Out, "No CircleCI token and no incident.yml here: the draft holds what pmguard saw, and prompts for the rest.")
	fmt.Fprintln(d.Out)
	err := postmortem.Run(ctx, &postmortem.Options{
		EventFiles: []string{d.EventsFile},
		OutDir:     out,
		Title:      "Post-mortem: canary of deploy #1234 failed",
		Stdout:     d.Out,
		Stderr:     d.Out,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(d.Out, "\nOpen %s in a browser, or commit %s: GitHub renders its Mermaid timeline.\n",
		filepath.Join(out, "postmortem.html"), filepath.Join(out, "postmortem.md"))
	fmt.Fprintln(d.Out, "Add incident.yml (alerts, pages, 5 Whys, action items) and run it again to complete the draft.")
	return nil
}
