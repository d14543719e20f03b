package postmortem

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/pmguard/pmguard/internal/human"
)

// maxDiagramEntries keeps the diagram readable; past it only the marked
// moments are drawn (the table still lists everything).
const maxDiagramEntries = 40

// Mermaid returns a Mermaid gantt chart of the response phases and the
// timeline's moments, which GitHub renders inside a ```mermaid block. Labels
// are reduced to characters Mermaid's gantt grammar cannot misread.
func (d *Document) Mermaid() string {
	if len(d.Timeline) == 0 {
		return ""
	}
	const layout = "2006-01-02 15:04:05"
	var b strings.Builder
	fmt.Fprintf(&b, "gantt\n    title Incident timeline (%s)\n    dateFormat YYYY-MM-DD HH:mm:ss\n    axisFormat %%H:%%M\n", mermaidLabel(d.Location.String()))
	measured := false
	for _, p := range d.responsePhases() {
		measured = measured || p.Measured
	}
	if measured {
		b.WriteString("    section Response\n")
		for i, p := range d.responsePhases() {
			if !p.Measured || p.Duration == 0 {
				continue
			}
			tag := []string{"done", "active", "crit", "done"}[i%4]
			fmt.Fprintf(&b, "    %s %s :%s, phase%d, %s, %s\n", p.Name, mermaidLabel(human.Duration(p.Duration)), tag, i,
				p.From.In(d.Location).Format(layout), p.To.In(d.Location).Format(layout))
		}
	}
	entries := d.Timeline
	if len(entries) > maxDiagramEntries {
		var marked []Entry
		for _, e := range entries {
			if e.Mark != "" {
				marked = append(marked, e)
			}
		}
		entries = marked
	}
	section := ""
	for i, e := range groupBySource(entries) {
		if s := sourceFamily(e.Source); s != section {
			section = s
			fmt.Fprintf(&b, "    section %s\n", mermaidLabel(s))
		}
		fmt.Fprintf(&b, "    %s %s :milestone, ev%d, %s, 0m\n", strings.ReplaceAll(d.clock(e.Time), ":", "."), mermaidLabel(e.Event), i, e.Time.In(d.Location).Format(layout))
	}
	return b.String()
}

// sourceFamily groups sources into diagram sections: CircleCI, pmguard, and
// each team-named source.
func sourceFamily(src string) string {
	switch {
	case src == "CircleCI":
		return "CircleCI"
	case strings.HasPrefix(src, "pmguard"):
		return "pmguard"
	}
	return src
}

// groupBySource orders entries by section (first appearance) then time, as
// Mermaid draws a section's tasks together.
func groupBySource(es []Entry) []Entry {
	var order []string
	by := map[string][]Entry{}
	for _, e := range es {
		f := sourceFamily(e.Source)
		if _, ok := by[f]; !ok {
			order = append(order, f)
		}
		by[f] = append(by[f], e)
	}
	var out []Entry
	for _, f := range order {
		out = append(out, by[f]...)
	}
	return out
}

// mermaidLabel keeps letters, digits, spaces and punctuation that gantt text
// accepts; ':' separates task fields, '#' and ';' start entities and
// statements, '%' starts comments.
func mermaidLabel(s string) string {
	s = strings.ReplaceAll(s, "%", " pct")
	s = strings.ReplaceAll(s, "→", "to")
	var b strings.Builder
	for _, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		case strings.ContainsRune(" .,-+/()'=>", r):
			b.WriteRune(r)
		case r == '"' || r == '`':
			b.WriteRune('\'')
		default:
			b.WriteRune(' ')
		}
	}
	out := strings.Join(strings.Fields(b.String()), " ")
	if r := []rune(out); len(r) > 60 {
		out = strings.TrimSpace(string(r[:57])) + "..."
	}
	if out == "" {
		out = "event"
	}
	return out
}
