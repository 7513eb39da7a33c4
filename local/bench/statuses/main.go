// Command statuses benchmarks the status function against a slow core: it
// runs the local connector (embedded AWS provisioned from template.yaml,
// the core sink), records a batch of sent messages as the sender does,
// queues their sent, delivered and read statuses on StatusQueue as the
// webhook stores them, sets the sink's latency, then starts the status
// function as `make local` runs it (status.Setup with the template's
// environment, fed by the local event source mapping with the template's
// BatchSize and MaximumConcurrency for StatusQueue) and waits until the
// sink has every message's events: the outbound.accepted copy the status
// function pushes ahead of a message's first status, and one
// message.status per state. It prints, last, one line:
//
//	core_latency_ms=100 messages=5000 events=20000 events_per_s=1500 lost=0 repeats=5000 order_violations=0
//
// With -order rounds (the default) the statuses are queued as they happen
// (every message's sent, then every delivered, then every read); with
// -order together each message's three statuses are queued side by side,
// so instances apply them at the same moment. events_per_s is the
// distinct events at the sink over the time from the function's start to
// the last one; lost counts events the sink never received (a state
// reported late, below the current one, still counts as received);
// repeats are pushes the sink already had (by Idempotency-Key);
// order_violations are events the sink received before a lower state of
// their message (outbound.accepted first, then sent, delivered, read).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/local/connector"
	"github.com/tucanlink/wacloud/local/esm"
	"github.com/tucanlink/wacloud/shared/delivery"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/metrics"
	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/status"
	"github.com/tucanlink/wacloud/shared/whatsapp"
)

const function = "StatusFunction"

// states are what each message reports, in Meta's order.
var states = []string{event.StatusSent, event.StatusDelivered, event.StatusRead}

type options struct {
	messages    int
	latencyMS   int
	order       string
	concurrency int
	timeout     time.Duration
}

type result struct {
	events, lost, repeats, orderViolations int
	perSecond                              float64
}

func main() {
	var o options
	flag.IntVar(&o.messages, "messages", 5000, "sent messages, each with sent, delivered and read statuses")
	flag.IntVar(&o.latencyMS, "latency-ms", 100, "core sink latency per push, in ms")
	flag.StringVar(&o.order, "order", "rounds", "queue order: rounds (every sent, then every delivered, then every read) or together (each message's three side by side)")
	flag.IntVar(&o.concurrency, "concurrency", 0, "concurrent status instances (0: the template's MaximumConcurrency)")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up waiting for the sink after this long")
	flag.Parse()
	if o.messages <= 0 || o.latencyMS < 0 || (o.order != "rounds" && o.order != "together") {
		fmt.Fprintln(os.Stderr, "bench-statuses: -messages must be positive, -latency-ms not negative, -order rounds or together")
		os.Exit(2)
	}
	res, err := run(context.Background(), o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-statuses:", err)
		os.Exit(1)
	}
	fmt.Printf("core_latency_ms=%d messages=%d events=%d events_per_s=%.0f lost=%d repeats=%d order_violations=%d\n",
		o.latencyMS, o.messages, res.events, res.perSecond, res.lost, res.repeats, res.orderViolations)
}

func run(ctx context.Context, o options) (result, error) {
	h, err := connector.Start(ctx, connector.Options{
		AWSAddr: "-", APIAddr: "127.0.0.1:0", GraphAddr: "127.0.0.1:0", SinkAddr: "127.0.0.1:0",
		// Nothing runs by itself: the status function is started below,
		// once the statuses are queued.
		Functions: map[string]connector.Setup{},
		Log:       io.Discard, LogLevel: slog.LevelError,
	})
	if err != nil {
		return result{}, err
	}
	defer h.Close()

	fn, ok := h.Stack.Functions[function]
	if !ok || len(fn.Sources) != 1 {
		return result{}, fmt.Errorf("%s with one SQS event source not found in the template", function)
	}
	src := fn.Sources[0]
	built, err := connector.Functions[function](ctx, fn.Getenv, h.Emulator.Config())
	if err != nil {
		return result{}, err
	}
	sh := built.Value.(*status.Handler)
	// As in Lambda, logs and metrics are written; only warnings (retries)
	// and errors are shown.
	sh.Log = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sh.Metrics = &metrics.Recorder{Out: io.Discard, Function: "status"}
	instances := src.MaxConcurrency
	if o.concurrency > 0 {
		instances = o.concurrency
	}
	if instances <= 0 {
		return result{}, fmt.Errorf("%s's event source sets no MaximumConcurrency: pass -concurrency", function)
	}
	fmt.Fprintf(os.Stderr, "bench-statuses: %d messages × %d statuses, order %s; %d instances × batch %d × %d records at once; core latency %d ms\n",
		o.messages, len(states), o.order, instances, src.BatchSize, sh.Queue.Concurrency, o.latencyMS)

	store := &delivery.Store{API: dynamodb.NewFromConfig(h.Emulator.Config()), Table: fn.Env["MESSAGES_TABLE"]}
	accepted := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	if err := record(ctx, store, o.messages, accepted); err != nil {
		return result{}, err
	}
	sq := sqs.NewFromConfig(h.Emulator.Config())
	if err := enqueue(ctx, sq, src.QueueURL, o, accepted); err != nil {
		return result{}, err
	}
	if err := setLatency(h.SinkURL, o.latencyMS); err != nil {
		return result{}, err
	}

	p := &esm.Poller{
		API: sq, Function: function, QueueURL: src.QueueURL, QueueARN: h.Stack.Names.Att[src.QueueID+".Arn"],
		Region: "us-east-1", BatchSize: src.BatchSize, ReportItemFailures: src.ReportItemFailures,
		Timeout: time.Duration(fn.Timeout) * time.Second, Concurrency: instances, Handler: built.SQS,
		WaitSeconds: 1, Log: slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	}
	want := o.messages * (len(states) + 1)
	pctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	start := time.Now()
	go func() { defer wg.Done(); p.Run(pctx) }()
	deadline := start.Add(o.timeout)
	var end time.Time
	for next := start.Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		n := h.Sink.Stats().Accepted
		if n >= want {
			end = time.Now()
			break
		}
		if now := time.Now(); now.After(deadline) {
			end = now
			fmt.Fprintf(os.Stderr, "bench-statuses: gave up after %s with %d of %d events at the sink\n", o.timeout, n, want)
			break
		} else if now.After(next) {
			fmt.Fprintf(os.Stderr, "bench-statuses: %d of %d events at the sink after %.0f s\n", n, want, now.Sub(start).Seconds())
			next = next.Add(10 * time.Second)
		}
	}
	stop()
	wg.Wait()
	st := p.Stats()
	fmt.Fprintf(os.Stderr, "bench-statuses: %d invocations, %d records deleted, %d item failures, %d failed invocations\n",
		st.Invocations, st.Deleted, st.ItemFailures, st.BatchErrors)
	res := check(h.Sink.Events(), o.messages)
	res.repeats = h.Sink.Stats().Duplicates
	res.perSecond = float64(res.events) / end.Sub(start).Seconds()
	return res, nil
}

func wamid(i int) string { return fmt.Sprintf("wamid.STATUSBENCH%08d", i) }
func waID(i int) string  { return fmt.Sprintf("55119%08d", i) }

// record writes the message records the sender writes when Meta accepts a
// job, 8 writers at once.
func record(ctx context.Context, store *delivery.Store, n int, at time.Time) error {
	start := time.Now()
	const writers = 8
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += writers {
				r := delivery.Record{WAMID: wamid(i), TenantID: connector.DemoTenantID, PhoneNumberID: connector.DemoPhoneNumberID,
					JobID: fmt.Sprintf("status-bench-%08d", i), To: waID(i), Type: "text", AcceptedAt: at}
				if err := store.RecordAccepted(ctx, r); err != nil {
					errs <- fmt.Errorf("record message %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench-statuses: recorded %d messages in %.1f s\n", n, time.Since(start).Seconds())
	return nil
}

// enqueue queues each message's statuses as the webhook stores them
// (whatsapp.Unit without a tenant, resolved by the status function from
// the business number), in batches of 10, 8 writers at once.
func enqueue(ctx context.Context, sq *sqs.Client, queueURL string, o options, accepted time.Time) error {
	type item struct{ msg, state int }
	var order []item
	if o.order == "rounds" {
		for s := range states {
			for i := range o.messages {
				order = append(order, item{i, s})
			}
		}
	} else {
		for i := range o.messages {
			for s := range states {
				order = append(order, item{i, s})
			}
		}
	}
	msgs := make([]queue.Message, 0, len(order))
	for _, it := range order {
		body, err := json.Marshal(map[string]any{"id": wamid(it.msg), "status": states[it.state], "recipient_id": waID(it.msg),
			"timestamp": fmt.Sprint(accepted.Add(time.Duration(it.state+1) * time.Second).Unix())})
		if err != nil {
			return err
		}
		u := whatsapp.Unit{Version: 1, Route: whatsapp.RoutePlatform, ReceivedAt: time.Now().UTC().Format(time.RFC3339Nano),
			WABAID: connector.DemoWABAID, Field: "messages", Kind: whatsapp.KindStatus,
			Metadata: whatsapp.Metadata{PhoneNumberID: connector.DemoPhoneNumberID, DisplayPhoneNumber: connector.DemoDisplayNumber}, Item: body}
		b, err := json.Marshal(u)
		if err != nil {
			return err
		}
		msgs = append(msgs, queue.Message{Body: string(b)})
	}
	start := time.Now()
	const writers = 8
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	chunk := (len(msgs) + writers - 1) / writers
	for w := range writers {
		part := msgs[min(w*chunk, len(msgs)):min((w+1)*chunk, len(msgs))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			pub := queue.Publisher{API: sq}
			for i := 0; i < len(part); i += 10 {
				if err := pub.Publish(ctx, queueURL, part[i:min(i+10, len(part))]...); err != nil {
					errs <- fmt.Errorf("queue statuses: %w", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench-statuses: queued %d statuses in %.1f s\n", len(msgs), time.Since(start).Seconds())
	return nil
}

func setLatency(sinkURL string, ms int) error {
	resp, err := http.Post(sinkURL+"/_sink/latency", "application/json", strings.NewReader(fmt.Sprintf(`{"ms":%d}`, ms)))
	if err != nil {
		return fmt.Errorf("set the core sink's latency: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("set the core sink's latency: %d %s", resp.StatusCode, b)
	}
	return nil
}

// check reads what the sink received, in arrival order: each message's
// acceptance and the states Meta reported (as an advance or late), and
// whether an event came before a lower one of its message.
func check(received []json.RawMessage, messages int) result {
	rank := map[string]int{event.TypeOutboundAccepted: 0}
	for i, s := range states {
		rank[s] = i + 1
	}
	var res result
	seen := map[string]bool{}   // wamid/state
	highest := map[string]int{} // wamid → highest rank received
	for _, raw := range received {
		var ev event.Event
		if json.Unmarshal(raw, &ev) != nil {
			continue
		}
		var id, state string
		switch {
		case ev.Type == event.TypeOutboundAccepted && ev.Outbound != nil:
			id, state = ev.Outbound.MessageID, event.TypeOutboundAccepted
		case ev.Type == event.TypeStatusUpdated && ev.Status != nil:
			id, state = ev.Status.MessageID, ev.Status.Reported
		default:
			continue
		}
		if !strings.HasPrefix(id, "wamid.STATUSBENCH") || seen[id+"/"+state] {
			continue
		}
		seen[id+"/"+state] = true
		res.events++
		if ev.Status != nil && ev.Status.Late {
			// Below the current state by design: it came after a higher one.
			continue
		}
		r := rank[state]
		if h, ok := highest[id]; (ok && r < h) || (!ok && r != 0) {
			res.orderViolations++
		}
		highest[id] = max(highest[id], r)
	}
	res.lost = messages*(len(states)+1) - res.events
	return res
}
