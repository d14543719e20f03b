package notify

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/pmguard/pmguard/internal/events"
)

// threadRef is the first notice of an incident in one channel, as the
// notified event stored it: later jobs of the pipeline reply to it.
type threadRef struct {
	ChannelID string
	TS        string
	Template  string
}

// findThread returns the parent notice of incident key in channel (a name or
// an ID, as configured): the parent itself, or a reply in its thread (the
// parent posted by a job whose event log is not this one).
func findThread(evs []events.Event, key, channel string) (threadRef, bool) {
	for _, e := range evs {
		if e.Event != events.Notified || e.PipelineID != key || threadIDOf(e) != "" {
			continue
		}
		var n events.Notice
		e.Decode(&n)
		if n.ChannelName != channel && n.Channel != channel || n.IncidentChannel {
			continue
		}
		switch {
		case n.Parent:
			return threadRef{ChannelID: n.Channel, TS: n.TS, Template: n.Template}, true
		case n.ThreadTS != "":
			return threadRef{ChannelID: n.Channel, TS: n.ThreadTS, Template: n.ParentTemplate}, true
		}
	}
	return threadRef{}, false
}

// namedThread are a notified event's figures with the thread_id of a
// thread the config named (thread_id), apart from the incident's thread.
type namedThread struct {
	events.Notice
	ThreadID string `json:"thread_id,omitempty"`
}

func threadIDOf(e events.Event) string {
	var t struct {
		ThreadID string `json:"thread_id"`
	}
	e.Decode(&t)
	return t.ThreadID
}

// findNamedThread returns the first top-level notice of thread id in channel
// for incident key: the CircleCI slack orb's thread_id threads.
func findNamedThread(evs []events.Event, key, id, channel string) (threadRef, bool) {
	for _, e := range evs {
		if e.Event != events.Notified || e.PipelineID != key || threadIDOf(e) != id {
			continue
		}
		var n events.Notice
		e.Decode(&n)
		if n.ChannelName != channel && n.Channel != channel {
			continue
		}
		switch {
		case n.ThreadTS != "":
			return threadRef{ChannelID: n.Channel, TS: n.ThreadTS}, true
		case n.TS != "":
			return threadRef{ChannelID: n.Channel, TS: n.TS, Template: n.Template}, true
		}
	}
	return threadRef{}, false
}

// sendNamedThread posts the notice in the thread thread_id names: a reply
// when an earlier notice started it in this channel, else its first message.
func (r *run) sendNamedThread(ctx context.Context, ch string, m Message) *posted {
	target, threadTS := ch, ""
	if ref, found := r.thread(ctx, ch); found {
		target, threadTS = ref.ChannelID, ref.TS
	}
	if r.p.offset > 0 {
		return r.scheduleNotice(ctx, target, ch, threadTS, m)
	}
	var meta *slack.SlackMetadata
	if threadTS == "" {
		meta = noticeMetadata(r.key, r.p.threadID, r.templateName())
	}
	id, ts, err := r.api.post(ctx, target, threadTS, m, meta)
	if err != nil {
		r.fail(ctx, err)
		return nil
	}
	if threadTS != "" {
		fmt.Fprintf(r.out, "pmguard notify: replied with %s in thread %q in %s (ts %s)\n", r.templateName(), r.p.threadID, channelLabel(ch), ts)
	} else {
		fmt.Fprintf(r.out, "pmguard notify: posted %s to %s (ts %s), starting thread %q\n", r.templateName(), channelLabel(ch), ts, r.p.threadID)
	}
	r.record(ctx, events.Notified, ch, namedThread{events.Notice{Channel: id, ChannelName: ch, TS: ts, ThreadTS: threadTS, Template: r.templateName()}, r.p.threadID})
	return &posted{channel: ch, id: id, ts: ts, parentTS: orDefault(threadTS, ts)}
}

// scheduleNotice schedules the notice scheduled_offset_seconds from now
// (chat.scheduleMessage), in thread threadTS when set. A scheduled message
// has no ts until Slack posts it, so it never starts a thread.
func (r *run) scheduleNotice(ctx context.Context, target, ch, threadTS string, m Message) *posted {
	at := r.o.d.Now().Add(r.p.offset)
	id, err := r.api.schedule(ctx, target, threadTS, at, m)
	if err != nil {
		r.fail(ctx, err)
		return nil
	}
	fmt.Fprintf(r.out, "pmguard notify: scheduled %s in %s for %s\n", r.templateName(), channelLabel(ch), at.UTC().Format("2006-01-02 15:04:05 UTC"))
	r.record(ctx, events.Notified, ch, namedThread{events.Notice{Channel: target, ChannelName: ch, ThreadTS: threadTS, Template: r.templateName(),
		ScheduledMessageID: id, PostAt: strconv.FormatInt(at.Unix(), 10)}, r.p.threadID})
	return nil
}

func findEvent(evs []events.Event, key, name string) (events.Event, bool) {
	for _, e := range evs {
		if e.Event == name && e.PipelineID == key {
			return e, true
		}
	}
	return events.Event{}, false
}

// posted is where this run's notice went in one channel.
type posted struct {
	channel  string // as configured
	id       string // channel ID
	ts       string
	parentTS string // the thread's parent: ts itself for a new parent
}

func (r *run) sendAPI(ctx context.Context) {
	threaded := r.p.thread && r.key != ""
	incidentID := ""
	if r.p.incident && r.status == "fail" {
		incidentID = r.incidentChannel(ctx)
	}

	var wg sync.WaitGroup
	results := make([]*posted, len(r.p.channels))
	facts := *r.facts
	facts.IncidentChannel = orDefault(incidentID, facts.IncidentChannel)
	for i, ch := range r.p.channels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = r.sendToChannel(ctx, ch, facts, threaded)
		}()
	}
	wg.Wait()

	if r.p.reminder > 0 && r.status == "fail" && r.key != "" {
		if _, done := findEvent(r.evs, r.key, events.PostmortemReminderScheduled); !done {
			r.scheduleReminder(ctx, incidentID, results)
		}
	}
}

// sendToChannel posts the notice to one channel: a reply in the incident's
// thread (and an update of the parent's status line) when there is one,
// otherwise a new message that becomes the thread's parent when it is a
// failure.
func (r *run) sendToChannel(ctx context.Context, ch string, facts Facts, threaded bool) *posted {
	m, _ := r.message(&facts)
	if r.p.threadID != "" {
		return r.sendNamedThread(ctx, ch, m)
	}
	ref, found := threadRef{}, false
	if threaded {
		ref, found = r.thread(ctx, ch)
	}
	if r.p.offset > 0 {
		if found {
			return r.scheduleNotice(ctx, ref.ChannelID, ch, ref.TS, m)
		}
		return r.scheduleNotice(ctx, ch, ch, "", m)
	}
	if found {
		id, ts, err := r.api.post(ctx, ref.ChannelID, ref.TS, m, nil)
		if err != nil {
			r.fail(ctx, err)
			return nil
		}
		fmt.Fprintf(r.out, "pmguard notify: replied with %s in the incident's thread in %s (ts %s)\n", r.templateName(), channelLabel(ch), ts)
		r.record(ctx, events.Notified, ch, events.Notice{Channel: id, ChannelName: ch, TS: ts, ThreadTS: ref.TS, Template: r.templateName(), ParentTemplate: ref.Template})
		if _, ok := templates[ref.Template]; ok {
			parent, _ := Render(ref.Template, &facts)
			parent.Fit(r.o.d.Redactor.Redact)
			if err := r.api.update(ctx, ref.ChannelID, ref.TS, parent); err != nil {
				r.fail(ctx, err)
			} else {
				fmt.Fprintf(r.out, "pmguard notify: updated the status line of the incident's first notice in %s\n", channelLabel(ch))
			}
		}
		return &posted{channel: ch, id: id, ts: ts, parentTS: ref.TS}
	}
	parent := threaded && r.status == "fail"
	var meta *slack.SlackMetadata
	if parent {
		meta = noticeMetadata(r.key, "", r.templateName())
	}
	id, ts, err := r.api.post(ctx, ch, "", m, meta)
	if err != nil {
		r.fail(ctx, err)
		return nil
	}
	fmt.Fprintf(r.out, "pmguard notify: posted %s to %s (ts %s)\n", r.templateName(), channelLabel(ch), ts)
	r.record(ctx, events.Notified, ch, events.Notice{Channel: id, ChannelName: ch, TS: ts, Template: r.templateName(), Parent: parent})
	p := &posted{channel: ch, id: id, ts: ts}
	if parent {
		p.parentTS = ts
	}
	return p
}

var nonName = regexp.MustCompile(`[^a-z0-9_-]+`)

// incidentChannelName is a valid Slack channel name for the incident:
// lowercase letters, digits, - and _, at most 80 characters, e.g.
// inc-20261123-api-1234.
func incidentChannelName(now time.Time, repo, pipeline string) string {
	repo = strings.Trim(nonName.ReplaceAllString(strings.ToLower(repo), "-"), "-_")
	if repo == "" {
		repo = "deploy"
	}
	pipeline = strings.Trim(nonName.ReplaceAllString(strings.ToLower(pipeline), "-"), "-_")
	suffix := ""
	if pipeline != "" {
		suffix = "-" + pipeline
	}
	prefix := "inc-" + now.UTC().Format("20060102") + "-"
	room := maxChannelName - len(prefix) - len(suffix) - 3 // keep room for a -NN suffix on name_taken
	if room < 1 {
		suffix, room = "", maxChannelName-len(prefix)-3
	}
	if len(repo) > room {
		repo = strings.TrimRight(repo[:room], "-_")
	}
	return prefix + repo + suffix
}

// incidentChannel creates the incident's channel (once per incident), sets
// its topic, invites the responders and posts the notice there. It returns
// the channel's ID, or "" when it could not be created.
func (r *run) incidentChannel(ctx context.Context) string {
	if id := incidentChannelOf(r.evs, r.key); id != "" {
		r.postToIncident(ctx, id)
		return id
	}
	pipe := r.o.d.Job.PipelineNumber
	if pipe == "" {
		pipe = shortSHA(r.o.d.Job.SHA)
	}
	base := incidentChannelName(r.o.d.Now(), r.o.d.Job.ProjectRepo, pipe)
	var id, name string
	for n := 1; n <= 5; n++ {
		name = base
		if n > 1 {
			name = fmt.Sprintf("%s-%d", base, n)
		}
		var err error
		id, err = r.api.createChannel(ctx, name)
		var se *SlackError
		if errors.As(err, &se) && se.Code == "name_taken" {
			if id := r.ownIncidentChannel(ctx, name); id != "" {
				return id
			}
			// Another incident holds the name: try the next.
			fmt.Fprintf(r.out, "pmguard notify: #%s is taken, trying another name\n", name)
			continue
		}
		if err != nil {
			r.fail(ctx, err)
			return ""
		}
		break
	}
	if id == "" {
		r.fail(ctx, &SlackError{Method: "conversations.create", Channel: base, Code: "name_taken", Detail: "5 names tried", TokenEnv: r.p.tokenEnv})
		return ""
	}
	fmt.Fprintf(r.out, "pmguard notify: created incident channel #%s\n", name)
	r.record(ctx, events.IncidentChannelCreated, name, events.Notice{Channel: id, ChannelName: name})

	if err := r.api.setTopic(ctx, id, r.topic()); err != nil {
		r.fail(ctx, err)
	}
	r.invite(ctx, id)
	r.postToIncident(ctx, id)
	return id
}

// incidentChannelOf is the ID of incident key's channel as the event log
// has it (created, or posted to), or "".
func incidentChannelOf(evs []events.Event, key string) string {
	if key == "" {
		return ""
	}
	for _, e := range evs {
		var n events.Notice
		switch e.Event {
		case events.IncidentChannelCreated, events.Notified:
			e.Decode(&n)
		}
		if e.PipelineID == key && n.Channel != "" && (e.Event == events.IncidentChannelCreated || n.IncidentChannel) {
			return n.Channel
		}
	}
	return ""
}

// ownIncidentChannel posts the notice in channel name and returns its ID
// when the channel is this incident's already: an earlier job of the
// pipeline created it and marked its notice there. "" otherwise, or when
// Slack cannot say.
func (r *run) ownIncidentChannel(ctx context.Context, name string) string {
	if r.key == "" {
		return ""
	}
	ref, ok, err := r.api.findMarked(ctx, name, r.key, "", r.o.d.Now().Add(-threadWindow))
	if err != nil {
		fmt.Fprintf(r.out, "pmguard notify: #%s is taken and could not be checked for this incident: %v\n", name, err)
		return ""
	}
	if !ok {
		return ""
	}
	fmt.Fprintf(r.out, "pmguard notify: #%s is this incident's channel already (found by its pipeline)\n", name)
	r.postToIncident(ctx, ref.ChannelID)
	return ref.ChannelID
}

func (r *run) topic() string {
	f := r.facts
	t := "Deploy incident: " + f.project()
	if f.Job.Branch != "" {
		t += " " + f.Job.Branch
	}
	if f.Job.SHA != "" {
		t += " " + shortSHA(f.Job.SHA)
	}
	if f.Job.BuildURL != "" {
		t += " · " + f.Job.BuildURL
	}
	// Redacted whole before the cut, which could leave part of a secret.
	return truncatePlain(r.o.d.Redactor.Redact(strings.ToValidUTF8(t, "\uFFFD")), maxTopicLength)
}

// invite resolves emails to user IDs and invites everyone in one call; a
// responder who cannot be found is a warning, not a lost channel.
func (r *run) invite(ctx context.Context, channelID string) {
	var ids []string
	for _, who := range r.p.responders {
		if isUserID(who) {
			ids = append(ids, who)
			continue
		}
		id, err := r.api.lookupEmail(ctx, who)
		if err != nil {
			var se *SlackError
			if errors.As(err, &se) && se.Code == "users_not_found" {
				fmt.Fprintf(r.errw, "pmguard notify: warning: no Slack user has the email %s; not invited\n", who)
				continue
			}
			r.fail(ctx, err)
			continue
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return
	}
	if err := r.api.invite(ctx, channelID, ids); err != nil {
		var se *SlackError
		if errors.As(err, &se) && se.Code == "already_in_channel" {
			return
		}
		r.fail(ctx, err)
		return
	}
	fmt.Fprintf(r.out, "pmguard notify: invited %d responder(s)\n", len(ids))
}

func (r *run) postToIncident(ctx context.Context, id string) {
	facts := *r.facts
	facts.IncidentChannel = "" // do not link the channel from itself
	m, _ := r.message(&facts)
	_, ts, err := r.api.post(ctx, id, "", m, noticeMetadata(r.key, "", r.templateName()))
	if err != nil {
		r.fail(ctx, err)
		return
	}
	r.record(ctx, events.Notified, id, events.Notice{Channel: id, TS: ts, Template: r.templateName(), IncidentChannel: true})
}

// scheduleReminder schedules the post-mortem reminder in the incident
// channel, or in the first channel's thread, within Slack's limits.
func (r *run) scheduleReminder(ctx context.Context, incidentID string, results []*posted) {
	target, threadTS := incidentID, ""
	if target == "" {
		for _, p := range results {
			if p != nil {
				target, threadTS = p.id, p.parentTS
				break
			}
		}
	}
	if target == "" {
		return // nothing was posted: no place for a reminder
	}
	facts := *r.facts
	if facts.IncidentStarted.IsZero() {
		facts.IncidentStarted = r.o.d.Now()
	}
	m, _ := Render(PostmortemReminder, &facts)
	m.Fit(r.o.d.Redactor.Redact)

	at, id, err := r.api.scheduleMoving(ctx, target, threadTS, r.o.d.Now().Add(r.p.reminder), m, func(code string, at time.Time) (time.Time, bool) {
		switch code {
		case "time_in_past":
			// Our clock is behind Slack's: aim later.
			return r.o.d.Now().Add(r.p.reminder + 10*time.Minute), true
		case "time_too_far":
			return r.o.d.Now().Add(maxReminder - 24*time.Hour), true
		}
		return at, false
	})
	if err != nil {
		r.fail(ctx, err)
		return
	}
	fmt.Fprintf(r.out, "pmguard notify: post-mortem reminder scheduled for %s\n", at.UTC().Format("2006-01-02 15:04 UTC"))
	r.record(ctx, events.PostmortemReminderScheduled, target, events.Notice{Channel: target, ThreadTS: threadTS, ScheduledMessageID: id, PostAt: strconv.FormatInt(at.Unix(), 10)})
}

// scheduleTries bounds the attempts of one scheduled message.
const scheduleTries = 4

// scheduleMoving schedules m at at; when Slack refuses the time, it tries
// again at the time move gives for the code (restricted_too_many, too many
// messages around that time, always moves 15 minutes along). It returns
// when the message was scheduled and its id.
func (w *webAPI) scheduleMoving(ctx context.Context, target, threadTS string, at time.Time, m Message, move func(code string, at time.Time) (time.Time, bool)) (time.Time, string, error) {
	for try := 0; try < scheduleTries; try++ {
		id, err := w.schedule(ctx, target, threadTS, at, m)
		var se *SlackError
		if errors.As(err, &se) {
			if se.Code == "restricted_too_many" {
				at = at.Add(15 * time.Minute)
				continue
			}
			if next, ok := move(se.Code, at); ok && try < scheduleTries-1 {
				at = next
				continue
			}
		}
		return at, id, err
	}
	return at, "", &SlackError{Method: "chat.scheduleMessage", Channel: target, Code: "restricted_too_many", Detail: fmt.Sprintf("%d times tried", scheduleTries), TokenEnv: w.tokenEnv}
}
