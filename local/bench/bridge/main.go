// Command bridge benchmarks the bridge against a slow core: it runs the
// local connector (embedded AWS provisioned from template.yaml, the core
// sink), queues a backlog of core events, sets the sink's latency, then
// starts the bridge as `make local` runs it (bridge.Setup with the
// template's environment, fed by the local event source mapping with the
// template's BatchSize and MaximumConcurrency for CoreEventsQueue, unless
// flags say otherwise) and waits until the sink has every event. It
// prints, last, one line:
//
//	core_latency_ms=100 events=20000 events_per_s=1150 lost=0 duplicates=0 order_violations=0
//
// The events are what the producers queue: per contact (FIFO group
// tenant:number:contact, as event.Event.OrderKey) an outbound.accepted and
// its sent, delivered and read statuses, across several tenants. With
// -order rounds (the default) they are queued in the order they happen
// (every contact's first event, then every contact's second, …), so a
// batch holds about one event per contact; with -order contacts each
// contact's events are queued together, so a batch holds runs of one
// contact's events, pushed one after another (as SQS hands out a backlog:
// as many messages of one group as it can). events_per_s is events / (the time from the bridge's
// start to the sink holding the last one); lost is events the sink never
// received, duplicates pushes the sink had already received (by
// Idempotency-Key), order_violations events the sink received before an
// earlier event of their contact.
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
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tucanlink/wacloud/local/connector"
	"github.com/tucanlink/wacloud/local/esm"
	"github.com/tucanlink/wacloud/shared/bridge"
	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/metrics"
	"github.com/tucanlink/wacloud/shared/queue"
)

const function = "BridgeFunction"

func main() {
	var o options
	flag.StringVar(&o.template, "template", "", "SAM template (default: template.yaml next to go.mod)")
	flag.IntVar(&o.events, "events", 20000, "core events to queue")
	flag.IntVar(&o.perContact, "per-contact", 4, "events per contact (accepted, sent, delivered, read, …)")
	flag.IntVar(&o.tenants, "tenants", 5, "tenants the contacts are spread over (one number each)")
	flag.IntVar(&o.latencyMS, "latency-ms", 100, "core sink latency per push, in ms")
	flag.IntVar(&o.concurrency, "concurrency", 0, "concurrent bridge instances (0: the template's MaximumConcurrency)")
	flag.IntVar(&o.pushConcurrency, "push-concurrency", 0, "pushes at once per instance (0: the template's CORE_PUSH_CONCURRENCY)")
	flag.StringVar(&o.order, "order", "rounds", "queue order: rounds (as events happen) or contacts (each contact's events together)")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up waiting for the sink after this long")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run (bridge, emulator and sink) to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench-bridge:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if o.events <= 0 || o.perContact <= 0 || o.tenants <= 0 || o.latencyMS < 0 || (o.order != "rounds" && o.order != "contacts") {
		fmt.Fprintln(os.Stderr, "bench-bridge: -events, -per-contact and -tenants must be positive, -latency-ms not negative, -order rounds or contacts")
		os.Exit(2)
	}
	res, err := run(context.Background(), o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-bridge:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
	fmt.Printf("core_latency_ms=%d events=%d events_per_s=%.0f lost=%d duplicates=%d order_violations=%d\n",
		o.latencyMS, o.events, res.perSecond, res.lost, res.duplicates, res.orderViolations)
}

type options struct {
	template                     string
	events, perContact, tenants  int
	latencyMS                    int
	order                        string
	concurrency, pushConcurrency int
	timeout                      time.Duration
}

type result struct {
	perSecond                         float64
	lost, duplicates, orderViolations int
}

// position is where an event stands in its contact's sequence.
type position struct {
	group string
	seq   int
}

func run(ctx context.Context, o options) (result, error) {
	h, err := connector.Start(ctx, connector.Options{
		AWSAddr: "-", APIAddr: "127.0.0.1:0", GraphAddr: "127.0.0.1:0", SinkAddr: "127.0.0.1:0",
		Template: o.template,
		// Nothing runs by itself: the bridge is started below, once the
		// backlog is queued.
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
	env := map[string]string{}
	for k, v := range fn.Env {
		env[k] = v
	}
	if o.pushConcurrency > 0 {
		env["CORE_PUSH_CONCURRENCY"] = fmt.Sprint(o.pushConcurrency)
	}
	built, err := connector.Functions[function](ctx, func(k string) string { return env[k] }, h.Emulator.Config())
	if err != nil {
		return result{}, err
	}
	br := built.Value.(*bridge.Handler)
	// As in Lambda, logs and metrics are written; only warnings (retries)
	// and errors are shown.
	br.Log = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	br.Metrics = &metrics.Recorder{Out: io.Discard, Function: "bridge"}
	instances := src.MaxConcurrency
	if o.concurrency > 0 {
		instances = o.concurrency
	}
	if instances <= 0 {
		return result{}, fmt.Errorf("%s's event source sets no MaximumConcurrency: pass -concurrency", function)
	}
	fmt.Fprintf(os.Stderr, "bench-bridge: %d events, %d per contact, %d tenants; %d instances × batch %d × %d pushes at once; core latency %d ms\n",
		o.events, o.perContact, o.tenants, instances, src.BatchSize, br.Consumer.Concurrency, o.latencyMS)

	runs := &batchRuns{}
	sq := sqs.NewFromConfig(h.Emulator.Config())
	positions, err := enqueue(ctx, sq, src.QueueURL, o)
	if err != nil {
		return result{}, err
	}
	if err := setLatency(h.SinkURL, o.latencyMS); err != nil {
		return result{}, err
	}

	p := &esm.Poller{
		API: sq, Function: function, QueueURL: src.QueueURL, QueueARN: h.Stack.Names.Att[src.QueueID+".Arn"],
		Region: "us-east-1", BatchSize: src.BatchSize, ReportItemFailures: src.ReportItemFailures,
		Timeout: time.Duration(fn.Timeout) * time.Second, Concurrency: instances, Handler: runs.observe(built.SQS),
		WaitSeconds: 1, Log: slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	}
	pctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	start := time.Now()
	go func() { defer wg.Done(); p.Run(pctx) }()

	deadline := start.Add(o.timeout)
	var end time.Time
	for next := start.Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		n := h.Sink.Stats().Accepted
		if n >= o.events {
			end = time.Now()
			break
		}
		if now := time.Now(); now.After(deadline) {
			end = now
			fmt.Fprintf(os.Stderr, "bench-bridge: gave up after %s with %d of %d events at the sink; the queue holds %s\n", o.timeout, n, o.events, queueDepth(ctx, sq, src.QueueURL))
			break
		} else if now.After(next) {
			fmt.Fprintf(os.Stderr, "bench-bridge: %d of %d events at the sink after %.0f s\n", n, o.events, now.Sub(start).Seconds())
			next = next.Add(10 * time.Second)
		}
	}
	stop()
	wg.Wait()

	st := p.Stats()
	fmt.Fprintf(os.Stderr, "bench-bridge: %s; %d invocations, %d records deleted, %d item failures, %d failed invocations\n",
		runs, st.Invocations, st.Deleted, st.ItemFailures, st.BatchErrors)
	res := check(h.Sink.Events(), positions)
	res.duplicates = h.Sink.Stats().Duplicates
	res.perSecond = float64(o.events-res.lost) / end.Sub(start).Seconds()
	return res, nil
}

// enqueue queues the backlog the way the producers do, and returns each
// event's place in its contact's sequence. Contacts are split among a few
// writers, each queueing its contacts' events in order.
func enqueue(ctx context.Context, sq *sqs.Client, queueURL string, o options) (map[string]position, error) {
	contacts := (o.events + o.perContact - 1) / o.perContact
	types := []string{event.TypeOutboundAccepted, event.StatusSent, event.StatusDelivered, event.StatusRead}
	type item struct {
		ev  event.Event
		pos position
	}
	const writers = 8
	lanes := make([][]item, writers)
	positions := make(map[string]position, o.events)
	n := 0
	// Round r holds every contact's r-th event: the order they happen in.
	var order [][2]int // contact, round
	for r := 0; len(order) < o.events; r++ {
		for c := 0; c < contacts && len(order) < o.events; c++ {
			order = append(order, [2]int{c, r})
		}
	}
	if o.order == "contacts" {
		sort.SliceStable(order, func(i, j int) bool { return order[i][0] < order[j][0] })
	}
	for _, cr := range order {
		c, r := cr[0], cr[1]
		{
			tenant := fmt.Sprintf("bench-%02d", c%o.tenants)
			number := fmt.Sprintf("1000000000%05d", c%o.tenants)
			waID := fmt.Sprintf("55119%08d", c)
			wamid := fmt.Sprintf("wamid.BENCH%08d", c)
			ev := event.Event{SchemaVersion: event.SchemaVersion, EventID: event.ID("bench-bridge", waID, fmt.Sprint(r)),
				TenantID: tenant, PhoneNumberID: number, OccurredAt: time.Now().UTC().Format(time.RFC3339),
				Contact: &event.Contact{WaID: waID}}
			switch t := types[r%len(types)]; t {
			case event.TypeOutboundAccepted:
				ev.Type = t
				ev.Outbound = &event.OutboundResult{JobID: fmt.Sprintf("job-%08d-%d", c, r), MessageType: "text", MessageID: wamid}
			default:
				ev.Type = event.TypeStatusUpdated
				ev.Status = &event.StatusChange{MessageID: wamid, Current: t, Reported: t, At: ev.OccurredAt}
			}
			pos := position{group: ev.OrderKey(), seq: r}
			positions[ev.EventID] = pos
			lanes[c%writers] = append(lanes[c%writers], item{ev, pos})
			n++
		}
	}
	start := time.Now()
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for _, lane := range lanes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pub := queue.Publisher{API: sq}
			for i := 0; i < len(lane); i += 10 {
				var msgs []queue.Message
				for _, it := range lane[i:min(i+10, len(lane))] {
					m, err := queue.EventMessage(it.ev)
					if err != nil {
						errs <- err
						return
					}
					msgs = append(msgs, m)
				}
				if err := pub.Publish(ctx, queueURL, msgs...); err != nil {
					errs <- fmt.Errorf("queue core events: %w", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "bench-bridge: queued %d events for %d contacts in %.1f s\n", n, contacts, time.Since(start).Seconds())
	return positions, nil
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

// check counts, from what the sink received in arrival order, the events
// it never got and those that came before an earlier event of their
// contact.
func check(received []json.RawMessage, positions map[string]position) result {
	var res result
	seen := map[string]bool{}
	last := map[string]int{}
	for _, raw := range received {
		var ev struct {
			EventID string `json:"event_id"`
		}
		if json.Unmarshal(raw, &ev) != nil {
			continue
		}
		pos, ok := positions[ev.EventID]
		if !ok || seen[ev.EventID] {
			continue
		}
		seen[ev.EventID] = true
		if prev, ok := last[pos.group]; ok && pos.seq < prev {
			res.orderViolations++
			continue
		}
		last[pos.group] = pos.seq
	}
	res.lost = len(positions) - len(seen)
	return res
}

// batchRuns measures the batches the bridge got: records per batch, and
// the longest run of one contact's events in a batch, which sets how long
// the batch takes (a run's pushes go one after another).
type batchRuns struct {
	mu                        sync.Mutex
	batches, records, longest int
}

func (b *batchRuns) observe(next esm.Handler) esm.Handler {
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		per := map[string]int{}
		longest := 0
		for _, r := range ev.Records {
			g := r.Attributes["MessageGroupId"]
			per[g]++
			longest = max(longest, per[g])
		}
		b.mu.Lock()
		b.batches++
		b.records += len(ev.Records)
		b.longest += longest
		b.mu.Unlock()
		return next(ctx, ev)
	}
}

func (b *batchRuns) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.batches == 0 {
		return "no batches"
	}
	return fmt.Sprintf("%d batches, %.1f records and a longest run of one contact of %.1f per batch on average",
		b.batches, float64(b.records)/float64(b.batches), float64(b.longest)/float64(b.batches))
}

// queueDepth says how many messages the queue holds, visible and in flight.
func queueDepth(ctx context.Context, sq *sqs.Client, queueURL string) string {
	out, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &queueURL,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		return "? (" + err.Error() + ")"
	}
	return fmt.Sprintf("%s visible and %s in flight", out.Attributes["ApproximateNumberOfMessages"], out.Attributes["ApproximateNumberOfMessagesNotVisible"])
}
