package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/tracing"
)

// logLines reads the connector's log as JSON objects.
func logLines(t *testing.T) []map[string]any {
	t.Helper()
	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// traceOf returns the trace ids of the log lines where key is value.
func traceOf(lines []map[string]any, key, value string) map[string]bool {
	ids := map[string]bool{}
	for _, l := range lines {
		if l[key] == value {
			if id, _ := l["trace_id"].(string); id != "" {
				ids[id] = true
			}
		}
	}
	return ids
}

// functionsOf returns the functions that logged a line of trace id, and
// the first line of each that lacks the keys every function line has.
func functionsOf(lines []map[string]any, id string) (map[string]bool, []string) {
	fns := map[string]bool{}
	var bad []string
	for _, l := range lines {
		if l["trace_id"] != id {
			continue
		}
		fn, _ := l["function"].(string)
		fns[fn] = true
		for _, k := range []string{"function", "request_id", "trace_id"} {
			if s, _ := l[k].(string); s == "" {
				b, _ := json.Marshal(l)
				bad = append(bad, k+" missing in "+string(b))
			}
		}
	}
	return fns, bad
}

func sorted(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestTraceFollowsAMessage: one inbound message is followed from Meta's
// request to the core by one trace id in the webhook's and the inbound
// function's log lines (the inbound function pushes it to the core); one
// outbound job, enqueued by a core that traces its own request, by the
// core's trace id in the sender's lines and on the sender's push of its
// result to the core. Every line carries function, request_id and
// trace_id.
func TestTraceFollowsAMessage(t *testing.T) {
	h := startOutbound(t)

	t.Run("inbound", func(t *testing.T) {
		contact := newContact()
		wamid := simInbound(t, h, contact, "trace me please")
		eventually(t, "message.received at the core", 30*time.Second, func() bool {
			return len(withMessage(sinkEvents(t, h, "?type=message.received"), wamid)) == 1
		})
		var ids map[string]bool
		eventually(t, "the inbound function's line for the message", 10*time.Second, func() bool {
			lines := logLines(t)
			ids = traceOf(lines, "wamid", wamid)
			fns := map[string]bool{}
			for id := range ids {
				f, _ := functionsOf(lines, id)
				for fn := range f {
					fns[fn] = true
				}
			}
			return fns["inbound"]
		})
		if len(ids) != 1 {
			t.Fatalf("the lines naming %s carry %d trace ids, want 1: %v", wamid, len(ids), sorted(ids))
		}
		for id := range ids {
			fns, bad := functionsOf(logLines(t), id)
			for _, want := range []string{"webhook", "inbound"} {
				if !fns[want] {
					t.Errorf("no %s line carries trace %s (functions with it: %v)", want, id, sorted(fns))
				}
			}
			for _, b := range bad[:min(len(bad), 3)] {
				t.Error(b)
			}
		}
	})

	t.Run("outbound", func(t *testing.T) {
		const header = "Root=1-6751c0de-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=1"
		contact := newContact()
		simInbound(t, h, contact, "open the window for the trace")
		jobID := newJobID("trace")
		j := textJob(jobID, contact, "a traced reply from the core")
		ctx, cancel := context.WithTimeout(tracing.WithHeader(context.Background(), header), 30*time.Second)
		defer cancel()
		err := queue.Publisher{API: sqs.NewFromConfig(h.Emulator.Config())}.Publish(ctx, h.Stack.Names.Ref["OutboundQueue"],
			queue.Message{Body: string(mustJSON(j)), GroupID: j.GroupID(), DedupID: jobID})
		if err != nil {
			t.Fatal(err)
		}
		root := tracing.Root(header)
		// The job's result, accepted or failed (its window may not be
		// recorded yet when it runs: the trace is the point here).
		var result string
		eventually(t, "the sender's lines of the core's trace, and its result at the core", 30*time.Second, func() bool {
			fns, _ := functionsOf(logLines(t), root)
			for _, typ := range []string{event.TypeOutboundAccepted, event.TypeOutboundFailed} {
				if id := event.OutboundEventID(typ, j.TenantID, jobID); len(sinkEvents(t, h, "?event_id="+id)) == 1 {
					result = id
				}
			}
			return fns["sender"] && result != ""
		})
		// The core hears the result in the trace of its own request.
		if got := tracing.Root(h.Sink.TraceOf(result)); got != root {
			t.Errorf("the job's result reached the core in trace %q, want the core's %s", got, root)
		}
		if ids := traceOf(logLines(t), "job_id", jobID); !ids[root] {
			t.Errorf("the lines naming job %s carry traces %v, not the core's %s", jobID, sorted(ids), root)
		}
		if _, bad := functionsOf(logLines(t), root); len(bad) > 0 {
			t.Error(bad[0])
		}
	})
}
