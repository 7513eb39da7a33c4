package crash

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/local/connector"
	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/shared/crashpoint"
	"github.com/tucanlink/wacloud/shared/delivery"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/outbound"
	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/sender"
	"github.com/tucanlink/wacloud/shared/whatsapp"
	"github.com/tucanlink/wacloud/shared/window"
)

// Environment of a function process (the test binary run again).
const (
	envChild = "WACLOUD_CRASH_CHILD" // the function's logical id
	envState = "WACLOUD_CRASH_STATE" // the connector's state file
)

// Queue visibility and job lease of the test: a crashed invocation's
// batch comes back after visibility (on AWS: 720 s for the outbound queue),
// and the lease must run out before it does.
const (
	visibility = "6"
	jobLease   = "5s"
)

func TestMain(m *testing.M) {
	if id := os.Getenv(envChild); id != "" {
		os.Exit(runChild(id))
	}
	os.Exit(m.Run())
}

// runChild runs one function until SIGTERM, as wacloud-local -only does.
func runChild(id string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	st, err := connector.ReadState(os.Getenv(envState))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	env := map[string]string{sender.EnvJobLease: jobLease}
	for _, k := range []string{crashpoint.Env, "DEFAULT_THROUGHPUT"} {
		if v := os.Getenv(k); v != "" {
			env[k] = v
		}
	}
	err = connector.RunFunction(ctx, st, id, connector.FunctionOptions{Pollers: 1, Log: os.Stderr, Env: env,
		OnTimeout: func() { os.Exit(3) },
		Adjust: func(h any) {
			// One job at a time, so that a crash point stops only the job
			// that reached it: with jobs in parallel, the others die in
			// whatever step they are in (see docs/sender.md on the gap
			// between a claim and its request).
			if s, ok := h.(*sender.Handler); ok && os.Getenv(crashpoint.Env) != "" {
				s.Consumer.Concurrency = 1
			}
		}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return 0
}

type world struct {
	t     *testing.T
	h     *connector.Handle
	state string
	dir   string
	run   int64
}

var seq atomic.Int64

func start(t *testing.T) *world {
	t.Helper()
	if testing.Short() {
		t.Skip("starts function processes")
	}
	ctx := context.Background()
	h, err := connector.Start(ctx, connector.Options{AWSAddr: "-", APIAddr: "127.0.0.1:0", GraphAddr: "127.0.0.1:0",
		SinkAddr: "127.0.0.1:0", Poll: []string{}, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	_ = h.Sim.SetStatusConfig(graphsim.StatusConfig{Disabled: true})
	c := sqs.NewFromConfig(h.Emulator.Config())
	for _, q := range []string{"OutboundQueue", "CoreEventsQueue", "InboundQueue", "StatusQueue"} {
		if _, err := c.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(h.Stack.Names.Ref[q]),
			Attributes: map[string]string{"VisibilityTimeout": visibility}}); err != nil {
			t.Fatal(err)
		}
	}
	w := &world{t: t, h: h, dir: t.TempDir(), run: time.Now().UnixNano() % 1e6}
	w.state = filepath.Join(w.dir, "state.json")
	if err := h.WriteState(w.state); err != nil {
		t.Fatal(err)
	}
	return w
}

// proc is a function process.
type proc struct {
	id  string
	cmd *exec.Cmd
	log string
	out chan error
}

func (w *world) startFn(id, crashAt string, env ...string) *proc {
	w.t.Helper()
	p := &proc{id: id, log: filepath.Join(w.dir, fmt.Sprintf("%s-%d.log", id, seq.Add(1))), out: make(chan error, 1)}
	f, err := os.Create(p.log)
	if err != nil {
		w.t.Fatal(err)
	}
	p.cmd = exec.Command(os.Args[0], "-test.run=^$")
	p.cmd.Env = append(append(os.Environ(), envChild+"="+id, envState+"="+w.state, crashpoint.Env+"="+crashAt), env...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	go func() { p.out <- p.cmd.Wait(); f.Close() }()
	w.t.Cleanup(func() { p.stop() })
	return p
}

// crashed waits for the process to end at its crash point.
func (w *world) crashed(p *proc) {
	w.t.Helper()
	select {
	case err := <-p.out:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != crashpoint.ExitCode {
			w.t.Fatalf("%s ended with %v, want exit %d at its crash point\n%s", p.id, err, crashpoint.ExitCode, tail(p.log))
		}
		p.out <- err
	case <-time.After(60 * time.Second):
		w.t.Fatalf("%s never reached its crash point\n%s", p.id, tail(p.log))
	}
}

// stop ends a process as a deploy would (SIGTERM: running batches finish).
func (p *proc) stop() {
	select {
	case err := <-p.out:
		p.out <- err
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.out:
		p.out <- err
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
	}
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// eventually polls cond for up to a minute.
func (w *world) eventually(what string, cond func() bool, procs ...*proc) {
	w.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			var logs []string
			for _, p := range procs {
				logs = append(logs, p.id+":\n"+tail(p.log))
			}
			w.t.Fatalf("timed out waiting for %s\n%s", what, strings.Join(logs, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sinkEvents are the events at the core sink (each event id once: the
// sink answers a repeated Idempotency-Key as a duplicate).
func (w *world) sinkEvents() []event.Event {
	var out []event.Event
	for _, raw := range w.h.Sink.Events() {
		var ev event.Event
		if err := json.Unmarshal(raw, &ev); err == nil {
			out = append(out, ev)
		}
	}
	return out
}

// enqueueJobs puts n text jobs to n recipients with open windows on the
// outbound queue and returns job id → recipient.
func (w *world) enqueueJobs(name string, n int) map[string]string {
	w.t.Helper()
	ctx := context.Background()
	cfg := w.h.Emulator.Config()
	win := window.Store{API: ddbClient(cfg), Table: w.h.Stack.Names.Ref["StateTable"]}
	jobs := map[string]string{}
	var msgs []queue.Message
	for i := range n {
		to := fmt.Sprintf("55119%06d%02d", w.run, int(seq.Add(1))%100)
		if err := win.RecordInbound(ctx, connector.Demo.PhoneNumberID, to, time.Now().Add(-time.Minute)); err != nil {
			w.t.Fatal(err)
		}
		j := outbound.Job{JobID: fmt.Sprintf("%s-%d-%d", name, w.run, i), TenantID: connector.Demo.ID, PhoneNumberID: connector.Demo.PhoneNumberID,
			To: "+" + to, Type: outbound.TypeText, Text: &outbound.Text{Body: "crash test " + name}}
		b, err := json.Marshal(j)
		if err != nil {
			w.t.Fatal(err)
		}
		msgs = append(msgs, queue.Message{Body: string(b), GroupID: j.GroupID(), DedupID: j.JobID})
		jobs[j.JobID] = to
	}
	if err := (queue.Publisher{API: sqs.NewFromConfig(cfg)}).Publish(ctx, w.h.Stack.Names.Ref["OutboundQueue"], msgs...); err != nil {
		w.t.Fatal(err)
	}
	return jobs
}

// TestCrashPoints kills the sender, the bridge, the status and the inbound function at
// chosen points mid-batch, starts them again, and counts: every job and
// every event comes through (0 lost), Meta gets no job twice and the core
// no event twice (0 sent twice), and a job is reported outcome_unknown
// only when Meta got its request (0 false outcome_unknown).
func TestCrashPoints(t *testing.T) {
	w := start(t)
	bridge := w.startFn("BridgeFunction", "")

	// The crashed job's request was written at after_request and
	// after_answer: it may rightly end outcome_unknown (its request may
	// have reached Meta; at after_request Meta may also not have taken
	// it). Before the request, and once the record is written, every
	// outcome is known.
	senderPoints := []struct {
		point     string
		at        int
		unknownOK bool // one job may end outcome_unknown
		unsentOK  bool // …even without Meta having its message
	}{
		{"sender.before_pace", 3, false, false},
		{"sender.while_waiting", 2, false, false},
		{"sender.after_request", 3, true, true},
		{"sender.after_answer", 3, true, false},
		{"sender.after_record", 3, false, false},
		// The batch's results are at the core, its records not deleted:
		// the redelivery pushes them again, and the core drops the repeats.
		{"sender.after_results_pushed", 1, false, false},
	}
	for _, sp := range senderPoints {
		t.Run(sp.point, func(t *testing.T) {
			jobs := w.enqueueJobs(strings.TrimPrefix(sp.point, "sender."), 8)
			// A slow number (2/s), so that jobs wait for their slots.
			w.crashed(w.startFn("SenderFunction", fmt.Sprintf("%s:%d", sp.point, sp.at), "DEFAULT_THROUGHPUT=2"))
			s := w.startFn("SenderFunction", "")
			results := func() map[string][]event.Event {
				out := map[string][]event.Event{}
				for _, ev := range w.sinkEvents() {
					if ev.Outbound != nil && jobs[ev.Outbound.JobID] != "" {
						out[ev.Outbound.JobID] = append(out[ev.Outbound.JobID], ev)
					}
				}
				return out
			}
			w.eventually(fmt.Sprintf("a result for each of %d jobs", len(jobs)), func() bool { return len(results()) == len(jobs) }, s, bridge)
			s.stop()
			sends := map[string]int{}
			for _, a := range w.h.Sim.Messages() {
				sends[strings.TrimPrefix(a.To, "+")]++
			}
			var lost, twice, falseUnknown, unknown int
			for id, evs := range results() {
				to := jobs[id]
				if sends[to] > 1 {
					twice++
				}
				if len(evs) != 1 {
					t.Errorf("job %s: %d results at the core, want 1", id, len(evs))
				}
				ev := evs[0]
				switch {
				case ev.Type == event.TypeOutboundAccepted && sends[to] == 1:
				case ev.Type == event.TypeOutboundFailed && ev.Outbound.Reason == event.ReasonOutcomeUnknown:
					unknown++
					if sends[to] == 0 && !sp.unsentOK {
						falseUnknown++
					}
				default:
					lost++
					t.Errorf("job %s: %s %s with %d sends", id, ev.Type, ev.Outbound.Reason, sends[to])
				}
			}
			t.Logf("%s: jobs=%d lost=%d sent_twice=%d false_outcome_unknown=%d outcome_unknown=%d", sp.point, len(jobs), lost, twice, falseUnknown, unknown)
			if lost != 0 || twice != 0 || falseUnknown != 0 {
				t.Errorf("lost=%d sent_twice=%d false_outcome_unknown=%d, want 0 each", lost, twice, falseUnknown)
			}
			if !sp.unknownOK && unknown > 0 || unknown > 1 {
				t.Errorf("outcome_unknown=%d, want at most %d: only the crashed job's request was written", unknown, map[bool]int{true: 1}[sp.unknownOK])
			}
		})
	}

	t.Run("bridge.after_push", func(t *testing.T) {
		bridge.stop()
		ids := w.enqueueEvents(8)
		w.crashed(w.startFn("BridgeFunction", "bridge.after_push:3"))
		bridge = w.startFn("BridgeFunction", "")
		w.checkEvents(t, ids, bridge)
	})

	t.Run("status.after_push", func(t *testing.T) {
		ids, wamids := w.enqueueStatuses(6)
		w.crashed(w.startFn("StatusFunction", "status.after_push:2"))
		st := w.startFn("StatusFunction", "")
		w.checkEvents(t, ids, st)
		// The redelivery marked what the crash left unmarked.
		store := &delivery.Store{API: ddbClient(w.h.Emulator.Config()), Table: w.h.Stack.Names.Ref["MessagesTable"]}
		w.eventually("every state marked notified", func() bool {
			for _, id := range wamids {
				if m, err := store.Get(context.Background(), id); err != nil || m.Status != "sent" || len(m.Pending()) != 0 {
					return false
				}
			}
			return true
		}, st)
		st.stop()
	})

	t.Run("inbound.after_publish", func(t *testing.T) {
		var texts []string
		for i := range 6 {
			texts = append(texts, fmt.Sprintf("crash inbound %d-%d", w.run, i))
			w.simInbound(fmt.Sprintf("55219%06d%02d", w.run, i), texts[i])
		}
		w.crashed(w.startFn("InboundFunction", "inbound.after_publish:2"))
		in := w.startFn("InboundFunction", "")
		count := func() map[string]int {
			got := map[string]int{}
			for _, ev := range w.sinkEvents() {
				if ev.Type == event.TypeMessageReceived && ev.Message != nil && ev.Message.Text != nil {
					got[ev.Message.Text.Body]++
				}
			}
			return got
		}
		w.eventually("every inbound message at the core", func() bool {
			got := count()
			for _, tx := range texts {
				if got[tx] == 0 {
					return false
				}
			}
			return true
		}, in, bridge)
		in.stop()
		for _, tx := range texts {
			if n := count()[tx]; n != 1 {
				t.Errorf("%q at the core %d times, want 1", tx, n)
			}
		}
	})
}

// enqueueStatuses records n sent messages as the sender does, puts their
// sent statuses on the status queue as the webhook stores them, and
// returns the event ids the core must get: each message's
// outbound.accepted (the status function's copy) and its message.status.
func (w *world) enqueueStatuses(n int) (ids, wamids []string) {
	w.t.Helper()
	ctx := context.Background()
	cfg := w.h.Emulator.Config()
	store := &delivery.Store{API: ddbClient(cfg), Table: w.h.Stack.Names.Ref["MessagesTable"]}
	now := time.Now().UTC()
	var msgs []queue.Message
	for i := range n {
		r := delivery.Record{WAMID: fmt.Sprintf("wamid.crashstatus%d-%d", w.run, i), TenantID: connector.Demo.ID,
			PhoneNumberID: connector.Demo.PhoneNumberID, JobID: fmt.Sprintf("crash-status-%d-%d", w.run, i),
			To: fmt.Sprintf("55419%06d%02d", w.run, i), Type: "text", AcceptedAt: now.Add(-2 * time.Second)}
		if err := store.RecordAccepted(ctx, r); err != nil {
			w.t.Fatal(err)
		}
		item, _ := json.Marshal(map[string]string{"id": r.WAMID, "status": "sent", "recipient_id": r.To, "timestamp": fmt.Sprint(now.Unix())})
		u := whatsapp.Unit{Version: 1, Route: whatsapp.RoutePlatform, ReceivedAt: now.Format(time.RFC3339Nano), WABAID: connector.Demo.WABAID,
			Field: "messages", Kind: whatsapp.KindStatus, Item: item,
			Metadata: whatsapp.Metadata{PhoneNumberID: connector.Demo.PhoneNumberID}}
		b, _ := json.Marshal(u)
		msgs = append(msgs, queue.Message{Body: string(b)})
		ids = append(ids, event.OutboundEventID(event.TypeOutboundAccepted, r.TenantID, r.JobID),
			event.StatusEventID(r.TenantID, r.PhoneNumberID, r.WAMID, "sent"))
		wamids = append(wamids, r.WAMID)
	}
	if err := (queue.Publisher{API: sqs.NewFromConfig(cfg)}).Publish(ctx, w.h.Stack.Names.Ref["StatusQueue"], msgs...); err != nil {
		w.t.Fatal(err)
	}
	return ids, wamids
}

// enqueueEvents puts n core events of n contacts on the core events queue.
func (w *world) enqueueEvents(n int) []string {
	w.t.Helper()
	var msgs []queue.Message
	var ids []string
	for i := range n {
		wa := fmt.Sprintf("55319%06d%02d", w.run, i)
		ev := event.Event{SchemaVersion: event.SchemaVersion, EventID: event.ID("crash", fmt.Sprint(w.run, i)), Type: event.TypeMessageReceived,
			TenantID: connector.Demo.ID, PhoneNumberID: connector.Demo.PhoneNumberID, OccurredAt: time.Now().UTC().Format(time.RFC3339),
			Contact: &event.Contact{WaID: wa}, Message: &event.Message{ID: fmt.Sprintf("wamid.crash%d-%d", w.run, i), Kind: "text", Text: &event.Text{Body: "hi"}}}
		m, err := queue.EventMessage(ev)
		if err != nil {
			w.t.Fatal(err)
		}
		msgs = append(msgs, m)
		ids = append(ids, ev.EventID)
	}
	if err := (queue.Publisher{API: sqs.NewFromConfig(w.h.Emulator.Config())}).Publish(context.Background(), w.h.Stack.Names.Ref["CoreEventsQueue"], msgs...); err != nil {
		w.t.Fatal(err)
	}
	return ids
}

// checkEvents waits for every event id at the core and checks each is
// there once.
func (w *world) checkEvents(t *testing.T, ids []string, procs ...*proc) {
	t.Helper()
	count := func() map[string]int {
		got := map[string]int{}
		for _, ev := range w.sinkEvents() {
			got[ev.EventID]++
		}
		return got
	}
	w.eventually("every event at the core", func() bool {
		got := count()
		for _, id := range ids {
			if got[id] == 0 {
				return false
			}
		}
		return true
	}, procs...)
	got := count()
	for _, id := range ids {
		if got[id] != 1 {
			t.Errorf("event %s at the core %d times, want 1", id, got[id])
		}
	}
	t.Logf("events=%d duplicate pushes answered as duplicates=%d", len(ids), w.h.Sink.Stats().Duplicates)
}

// simInbound makes a simulated user write.
func (w *world) simInbound(from, text string) {
	w.t.Helper()
	b, _ := json.Marshal(map[string]string{"from": from, "type": "text", "text": text, "phone_number_id": connector.Demo.PhoneNumberID})
	resp, err := http.Post(w.h.GraphURL+"/_sim/inbound", "application/json", bytes.NewReader(b))
	if err != nil {
		w.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		w.t.Fatalf("/_sim/inbound: %d %s", resp.StatusCode, body)
	}
}
