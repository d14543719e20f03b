package notify

import (
	"fmt"
	"io"
	"regexp"
	"strings"
)

// Preview prints m as a person would read it in Slack, then the Block Kit
// JSON that would be sent.
func Preview(w io.Writer, m Message) {
	fmt.Fprintln(w, "---- message (as text) ----")
	fmt.Fprint(w, TextRendering(m))
	fmt.Fprintf(w, "---- Block Kit JSON (%d block(s), paste into Slack's Block Kit Builder to see it) ----\n", len(m.Blocks))
	fmt.Fprintf(w, "%s\n", m.JSON())
}

var (
	mdLink    = regexp.MustCompile(`<(https?://[^|>]+)\|([^>]*)>`)
	mdBare    = regexp.MustCompile(`<(https?://[^|>]+)>`)
	mdChannel = regexp.MustCompile(`<#([A-Z0-9]+)(?:\|([^>]*))?>`)
	mdUser    = regexp.MustCompile(`<@([A-Z0-9]+)(?:\|([^>]*))?>`)
	mdGroup   = regexp.MustCompile(`<!subteam\^[A-Z0-9]+(?:\|([^>]*))?>`)
	mdSpecial = regexp.MustCompile(`<!(here|channel|everyone)(?:\|[^>]*)?>`)
)

// plainText turns mrkdwn into readable plain text.
func plainText(s string) string {
	s = mdLink.ReplaceAllString(s, "$2 ($1)")
	s = mdBare.ReplaceAllString(s, "$1")
	s = mdChannel.ReplaceAllString(s, "#$1")
	s = mdUser.ReplaceAllString(s, "@$1")
	s = mdGroup.ReplaceAllString(s, "@$1")
	s = mdSpecial.ReplaceAllString(s, "@$1")
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}

// TextRendering is m as plain text: header underlined, fields as
// "Name: value", buttons as "[label] url".
func TextRendering(m Message) string {
	var b strings.Builder
	if len(m.Blocks) == 0 {
		b.WriteString(plainText(m.Text) + "\n")
	}
	for _, blk := range m.Blocks {
		switch blk["type"] {
		case "header":
			t := textOf(blk["text"])
			b.WriteString(t + "\n" + strings.Repeat("=", min(runeLen(t), 72)) + "\n")
		case "section":
			if t := textOf(blk["text"]); t != "" {
				b.WriteString(plainText(t) + "\n")
			}
			if fields, ok := blk["fields"].([]any); ok {
				for _, f := range fields {
					t := plainText(textOf(f))
					name, value, ok := strings.Cut(t, "\n")
					if ok {
						t = strings.Trim(name, "*") + ": " + strings.ReplaceAll(value, "\n", " ")
					}
					b.WriteString("  " + t + "\n")
				}
			}
		case "context":
			var parts []string
			if el, ok := blk["elements"].([]any); ok {
				for _, e := range el {
					if t := textOf(e); t != "" {
						parts = append(parts, plainText(t))
					}
				}
			}
			b.WriteString("  " + strings.Join(parts, " | ") + "\n")
		case "divider":
			b.WriteString(strings.Repeat("-", 40) + "\n")
		case "actions":
			var parts []string
			if el, ok := blk["elements"].([]any); ok {
				for _, e := range el {
					em, _ := e.(map[string]any)
					u, _ := em["url"].(string)
					parts = append(parts, "["+textOf(em["text"])+"] "+u)
				}
			}
			b.WriteString(strings.Join(parts, "\n") + "\n")
		default:
			fmt.Fprintf(&b, "(%v block)\n", blk["type"])
		}
	}
	return b.String()
}

func textOf(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	s, _ := m["text"].(string)
	return s
}
