package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Message is one Slack message: the fallback text Slack shows in
// notifications and the Block Kit blocks. Blocks are kept as generic JSON so
// built-in and custom templates share one path through the limits and out to
// Slack byte for byte.
type Message struct {
	Text        string           `json:"text"`
	Blocks      []map[string]any `json:"blocks,omitempty"`
	Attachments []map[string]any `json:"attachments,omitempty"`
}

// Slack's Block Kit limits (api.slack.com/reference/block-kit). A message
// over any of them is rejected whole with invalid_blocks, so every message is
// cut down to fit before it is sent.
const (
	maxBlocks        = 50
	maxHeaderText    = 150
	maxSectionText   = 3000
	maxFields        = 10
	maxFieldText     = 2000
	maxContextElems  = 10
	maxContextText   = 3000
	maxActionElems   = 25
	maxButtonText    = 75
	maxButtonURL     = 3000
	maxBlockID       = 255
	maxMessageText   = 40000
	maxFallbackText  = 4000 // what a notification can usefully show
	maxTopicLength   = 250
	maxChannelName   = 80
	truncationMarker = "…"
)

// Fit cuts m down to Slack's limits and reports what it changed, one line
// per change. It never drops the fallback text and never leaves a text object
// empty (Slack rejects both). Every text goes through redact (nil: none)
// first: a secret cut in two at a limit would no longer be recognised.
func (m *Message) Fit(redact func(string) string) []string {
	var notes []string
	note := func(format string, a ...any) { notes = append(notes, fmt.Sprintf(format, a...)) }

	// A job value (a branch name) may hold bytes that are not UTF-8; Slack
	// would reject the message or garble it, so every text is made valid.
	clean := func(s string) string {
		s = strings.ToValidUTF8(s, "\uFFFD")
		if redact != nil {
			s = redact(s)
		}
		return s
	}
	m.Text = clean(m.Text)
	for _, b := range m.Blocks {
		eachString(b, clean)
	}
	for _, a := range m.Attachments {
		eachString(a, clean)
	}
	if strings.TrimSpace(m.Text) == "" {
		m.Text = fallbackFromBlocks(m.Blocks)
	}
	if n := runeLen(m.Text); n > maxFallbackText {
		m.Text = truncateMrkdwn(m.Text, maxFallbackText)
		note("fallback text cut from %d to %d characters", n, maxFallbackText)
	}
	if len(m.Blocks) > maxBlocks {
		dropped := len(m.Blocks) - (maxBlocks - 1)
		m.Blocks = append(m.Blocks[:maxBlocks-1:maxBlocks-1], contextBlock(fmt.Sprintf("_%d more block(s) not shown: Slack allows %d per message._", dropped, maxBlocks)))
		note("%d block(s) dropped (Slack allows %d)", dropped, maxBlocks)
	}
	for i, b := range m.Blocks {
		fitBlock(b, func(format string, a ...any) { note("block %d: "+format, append([]any{i + 1}, a...)...) })
	}
	return notes
}

// eachString replaces every string inside obj with f of it.
func eachString(obj map[string]any, f func(string) string) {
	for k, v := range obj {
		obj[k] = stringsOf(v, f)
	}
}

func stringsOf(v any, f func(string) string) any {
	switch t := v.(type) {
	case string:
		return f(t)
	case map[string]any:
		eachString(t, f)
	case []map[string]any:
		for _, x := range t {
			eachString(x, f)
		}
	case []any:
		for i, x := range t {
			t[i] = stringsOf(x, f)
		}
	}
	return v
}

func fitBlock(b map[string]any, note func(string, ...any)) {
	if id, ok := b["block_id"].(string); ok && runeLen(id) > maxBlockID {
		b["block_id"] = string([]rune(id)[:maxBlockID])
		note("block_id cut to %d characters", maxBlockID)
	}
	typ, _ := b["type"].(string)
	switch typ {
	case "header":
		fitText(b["text"], maxHeaderText, "header", note)
	case "section":
		fitText(b["text"], maxSectionText, "section text", note)
		fitList(b, "fields", maxFields, "field(s)", note, func(f map[string]any) { fitText(f, maxFieldText, "field", note) })
		if _, hasText := b["text"]; !hasText {
			if fields, _ := b["fields"].([]any); len(fields) == 0 {
				b["text"] = map[string]any{"type": "mrkdwn", "text": "-"}
			}
		}
		if acc, ok := b["accessory"].(map[string]any); ok {
			fitElement(acc, note)
		}
	case "context":
		fitList(b, "elements", maxContextElems, "context element(s)", note, func(e map[string]any) {
			if e["type"] == "mrkdwn" || e["type"] == "plain_text" {
				fitText(e, maxContextText, "context text", note)
			}
		})
	case "actions":
		fitList(b, "elements", maxActionElems, "action(s)", note, func(e map[string]any) { fitElement(e, note) })
	}
}

// fitList keeps the first limit items of the list b[key] (what names them
// in the note) and fits each object kept.
func fitList(b map[string]any, key string, limit int, what string, note func(string, ...any), fit func(map[string]any)) {
	items, ok := b[key].([]any)
	if !ok {
		return
	}
	if len(items) > limit {
		note("%d %s dropped (Slack allows %d)", len(items)-limit, what, limit)
		items = items[:limit]
		b[key] = items
	}
	for _, it := range items {
		if obj, ok := it.(map[string]any); ok {
			fit(obj)
		}
	}
}

func fitElement(e map[string]any, note func(string, ...any)) {
	if e["type"] != "button" {
		return
	}
	fitText(e["text"], maxButtonText, "button text", note)
	if u, ok := e["url"].(string); ok && len(u) > maxButtonURL {
		delete(e, "url") // a cut URL points somewhere else: better none
		note("button URL longer than %d characters removed", maxButtonURL)
	}
}

// fitText cuts a text object's text to limit characters and fills an empty one.
func fitText(obj any, limit int, what string, note func(string, ...any)) {
	t, ok := obj.(map[string]any)
	if !ok {
		return
	}
	s, _ := t["text"].(string)
	if strings.TrimSpace(s) == "" {
		t["text"] = "-"
		return
	}
	if n := runeLen(s); n > limit {
		if t["type"] == "mrkdwn" {
			t["text"] = truncateMrkdwn(s, limit)
		} else {
			t["text"] = truncatePlain(s, limit)
		}
		note("%s cut from %d to %d characters", what, n, limit)
	}
}

func runeLen(s string) int { return len([]rune(s)) }

// truncatePlain cuts s to at most limit characters, ending with an ellipsis.
func truncatePlain(s string, limit int) string {
	r := []rune(s)
	if len(r) <= limit {
		return s
	}
	return string(r[:limit-1]) + truncationMarker
}

// truncateMrkdwn cuts mrkdwn without leaving half a link (<url|label>), half an
// entity (&amp;) or an open code block behind: any of those would make Slack
// render the rest of the text wrongly.
func truncateMrkdwn(s string, limit int) string {
	r := []rune(s)
	if len(r) <= limit {
		return s
	}
	const closeFence = "\n```"
	cut := limit - 1
	for {
		head := r[:cut]
		if i := lastIndexRune(head, '<'); i >= 0 && lastIndexRune(head[i:], '>') < 0 {
			head = head[:i]
		}
		if i := lastIndexRune(head, '&'); i >= 0 && lastIndexRune(head[i:], ';') < 0 && len(head)-i <= 8 {
			head = head[:i]
		}
		out := string(head) + truncationMarker
		if strings.Count(out, "```")%2 == 0 {
			return out
		}
		// An open code block: close it, within the limit.
		if runeLen(out)+runeLen(closeFence) <= limit {
			return out + closeFence
		}
		cut = len(head) - runeLen(closeFence)
		if cut <= 0 {
			return truncationMarker
		}
	}
}

func lastIndexRune(r []rune, c rune) int {
	for i := len(r) - 1; i >= 0; i-- {
		if r[i] == c {
			return i
		}
	}
	return -1
}

// fallbackFromBlocks builds a fallback text from the first header or section,
// since Slack needs one for notifications and screen readers.
func fallbackFromBlocks(blocks []map[string]any) string {
	for _, b := range blocks {
		if t, ok := b["text"].(map[string]any); ok {
			if s, _ := t["text"].(string); strings.TrimSpace(s) != "" {
				return s
			}
		}
	}
	return "pmguard notice"
}

// JSON is the message as Slack receives it.
func (m Message) JSON() []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep <url|label> readable; Slack reads both forms
	enc.SetIndent("", "  ")
	_ = enc.Encode(m)
	return bytes.TrimRight(b.Bytes(), "\n")
}

// escapeText escapes the three characters Slack's mrkdwn treats as markup, so
// a commit subject such as "<!channel> fix" is shown, not acted on.
func escapeText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// Block builders for the built-in templates.

func headerBlock(text string) map[string]any {
	return map[string]any{"type": "header", "text": plain(text)}
}

func sectionBlock(md string) map[string]any {
	return map[string]any{"type": "section", "text": mrkdwn(md)}
}

func fieldsBlock(fields ...string) map[string]any {
	var fs []any
	for _, f := range fields {
		if f != "" {
			fs = append(fs, mrkdwn(f))
		}
	}
	return map[string]any{"type": "section", "fields": fs}
}

func contextBlock(md ...string) map[string]any {
	var el []any
	for _, m := range md {
		el = append(el, mrkdwn(m))
	}
	return map[string]any{"type": "context", "elements": el}
}

type button struct {
	Text, URL, Style string
}

func actionsBlock(buttons ...button) map[string]any {
	var el []any
	for i, b := range buttons {
		if b.URL == "" {
			continue
		}
		e := map[string]any{"type": "button", "text": plain(b.Text), "url": b.URL, "action_id": fmt.Sprintf("pmguard_link_%d", i)}
		if b.Style != "" {
			e["style"] = b.Style
		}
		el = append(el, e)
	}
	if len(el) == 0 {
		return nil
	}
	return map[string]any{"type": "actions", "elements": el}
}

func plain(s string) map[string]any {
	return map[string]any{"type": "plain_text", "text": s, "emoji": true}
}

func mrkdwn(s string) map[string]any { return map[string]any{"type": "mrkdwn", "text": s} }

// textMessage is a calling verb's own mrkdwn text as a message: the text,
// and the same text as one section so it shows in full.
func textMessage(md string) Message {
	return Message{Text: md, Blocks: []map[string]any{sectionBlock(md)}}
}
