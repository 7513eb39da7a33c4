// Command calls counts the AWS requests one message costs (make
// bench-calls). It runs the connector's pieces as make local does (the
// functions, the local event source mappings, the Graph simulator and the
// core sink) against an AWS emulator behind a counting front, so every
// request to the AWS endpoint is counted by service and operation: the
// functions' own calls, the event-source polling (receives, empty long
// polls included, and deletes) and the core's SendMessage of a job.
//
// Three phases, each at a steady rate for a fixed duration after a warm-up
// that is not counted (caches filled, windows opened):
//   - inbound: signed text webhooks from the Graph simulator, until every
//     message.received reached the core sink;
//   - outbound: text jobs on the outbound queue, as the core sends them,
//     until outbound.accepted and the three statuses the simulator posts
//     as signed webhooks (sent, delivered, read) reached the core sink;
//   - campaign: the same jobs as a campaign's (its id, the bulk lane), so
//     that each message is counted in the campaign's count shards too.
//
// Each phase also prints the DynamoDB partition keys that take the most
// capacity units per message, and what they would take at 1,000 messages
// a second against a partition's limit (1,000 write, 3,000 read units):
// the emulators have no such limit, so this is where a hot key shows.
//
// It prints a table per phase and, last, one line:
// inbound_calls_per_msg=… outbound_calls_per_job=…
// Figures, not a test: it asserts nothing about them.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/connector"
	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/shared/campaign"
	"github.com/tucanlink/wacloud/shared/campaign/tally"
	"github.com/tucanlink/wacloud/shared/outbound"
	"github.com/tucanlink/wacloud/shared/whatsapp"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench-calls:", err)
		os.Exit(1)
	}
}

type options struct {
	rate     float64
	duration time.Duration
	contacts int
	pollers  int
	backend  string
	timeout  time.Duration
	// statusDelay spaces a message's status webhooks.
	statusDelay time.Duration
}

func run() error {
	var o options
	flag.Float64Var(&o.rate, "rate", 25, "messages (inbound) and jobs (outbound) per second")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "how long each phase sends at -rate")
	flag.IntVar(&o.contacts, "contacts", 50, "distinct contacts (FIFO groups)")
	flag.IntVar(&o.pollers, "pollers", 2, "concurrent batches per queue (the local event source mappings)")
	flag.StringVar(&o.backend, "aws", "", "AWS implementation: kumo or moto (default: WACLOUD_TEST_AWS, else kumo)")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up after this long")
	flag.DurationVar(&o.statusDelay, "status-delay", 0, "wait before each of a message's status webhooks (0: all at once, the harshest case for the status function; Meta spaces them by the time each state took)")
	flag.Parse()
	if o.rate <= 0 || o.duration <= 0 || o.contacts <= 0 {
		return errors.New("-rate, -duration and -contacts must be positive")
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()

	b := awsemu.Backend(o.backend)
	if b == "" {
		var err error
		if b, err = awsemu.BackendFromEnv(); err != nil {
			return err
		}
	}
	emu, err := awsemu.StartBackend(b)
	if err != nil {
		return err
	}
	defer emu.Close()
	cnt, err := newCounter(emu.URL)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	front := &http.Server{Handler: cnt, ReadHeaderTimeout: 10 * time.Second}
	go front.Serve(ln)
	defer front.Close()

	h, err := connector.Start(ctx, connector.Options{
		AWSEndpoint: "http://" + ln.Addr().String(), APIAddr: "127.0.0.1:0", GraphAddr: "127.0.0.1:0", SinkAddr: "127.0.0.1:0",
		Pollers: o.pollers, Log: logOut(), LogLevel: slog.LevelWarn, Metrics: io.Discard,
	})
	if err != nil {
		return err
	}
	defer h.Close()
	if o.statusDelay > 0 {
		sc := h.Sim.StatusConfig()
		sc.DelayMS = int(o.statusDelay / time.Millisecond)
		if err := h.Sim.SetStatusConfig(sc); err != nil {
			return err
		}
	}
	r := &runner{o: o, h: h, cnt: cnt, ctx: ctx,
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second},
		sqs:    sqs.NewFromConfig(h.Emulator.Config())}

	// Warm-up, not counted: every contact writes once (tenant and secret
	// caches filled, every window open for the text jobs), one job each.
	if err := r.inbound(o.contacts, 0); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	if err := r.outbound(o.contacts, 0, nil); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}

	n := int(o.rate * o.duration.Seconds())
	before, u0 := cnt.snapshot(), cnt.snapshotUnits()
	if err := r.inbound(n, o.rate); err != nil {
		return err
	}
	in := delta(before, cnt.snapshot())
	inUnits := cnt.snapshotUnits().minus(u0)

	before = cnt.snapshot()
	dup0 := h.Sink.Stats().Duplicates
	u0 = cnt.snapshotUnits()
	if err := r.outbound(n, o.rate, nil); err != nil {
		return err
	}
	out := delta(before, cnt.snapshot())
	outUnits := cnt.snapshotUnits().minus(u0)
	dups := h.Sink.Stats().Duplicates - dup0

	// The same jobs as a campaign's (its id, the bulk lane): each message
	// is also counted in the campaign's count shards.
	before, u0 = cnt.snapshot(), cnt.snapshotUnits()
	cid := campaign.NewID(connector.DemoTenantID, fmt.Sprintf("bench-calls-%d", time.Now().UnixNano()))
	if err := r.outbound(n, o.rate, func(j *outbound.Job) { j.CampaignID, j.Lane = cid, outbound.LaneBulk }); err != nil {
		return err
	}
	camp := delta(before, cnt.snapshot())
	campUnits := cnt.snapshotUnits().minus(u0)

	fmt.Printf("bench-calls: AWS %s, %.0f/s for %s per phase, %d contacts, %d pollers per queue, statuses %s apart; every request at the AWS endpoint\n",
		b, o.rate, o.duration, o.contacts, o.pollers, o.statusDelay)
	table(os.Stdout, "inbound text messages", in, n)
	hotKeys(os.Stdout, inUnits, n)
	table(os.Stdout, "outbound text jobs, each with sent, delivered and read", out, n)
	hotKeys(os.Stdout, outUnits, n)
	table(os.Stdout, "campaign text jobs (bulk lane, counted in the campaign), each with sent, delivered and read", camp, n)
	hotKeys(os.Stdout, campUnits, n)
	fmt.Printf("\nduplicate pushes to the core in the outbound phase: %d (%.2f per job)\n", dups, float64(dups)/float64(n))
	var shardMax, shardSum float64
	for k, v := range campUnits {
		if id, ok := tally.CampaignOf(connector.DemoTenantID, k.pk); ok && id == cid && k.write {
			shardMax, shardSum = max(shardMax, v), shardSum+v
		}
	}
	fmt.Printf("campaign_calls_per_job=%.2f count_shard_write_units_per_job=%.3f max=%.3f (over %d shards; at 1,000 jobs a second %.0f a shard, %.0f the busiest here, of a partition's 1,000)\n",
		float64(total(camp))/float64(n), shardSum/tally.Shards/float64(n), shardMax/float64(n), tally.Shards,
		shardSum/tally.Shards/float64(n)*1000, shardMax/float64(n)*1000)
	fmt.Printf("inbound_calls_per_msg=%.2f outbound_calls_per_job=%.2f\n",
		float64(total(in))/float64(n), float64(total(out))/float64(n))
	return nil
}

type runner struct {
	o      options
	h      *connector.Handle
	cnt    *counter
	ctx    context.Context
	client *http.Client
	sqs    *sqs.Client
	seq    atomic.Int64
}

// contact is the wa_id of contact i.
func (r *runner) contact(i int) string { return fmt.Sprintf("55119%08d", i%r.o.contacts) }

// paced calls f(i) for i in [0, n), at rate per second (0: all at once,
// a few at a time), and returns the first error.
func (r *runner) paced(n int, rate float64, f func(i int) error) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	sem := make(chan struct{}, 32)
	start := time.Now()
	for i := range n {
		if rate > 0 {
			due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
			time.Sleep(time.Until(due))
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := f(i); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

// inbound posts n signed text webhooks and waits for their events.
func (r *runner) inbound(n int, rate float64) error {
	want := r.h.Sink.Stats().Accepted + n
	number := &graphsim.Number{PhoneNumberID: connector.DemoPhoneNumberID, WABAID: connector.DemoWABAID, DisplayPhoneNumber: connector.DemoDisplayNumber}
	err := r.paced(n, rate, func(i int) error {
		_, p, err := r.h.Sim.InboundPayload(number, graphsim.InboundRequest{
			From: r.contact(i), Name: "Bench", Text: fmt.Sprintf("bench message %d", r.seq.Add(1)),
		})
		if err != nil {
			return err
		}
		req, _ := http.NewRequestWithContext(r.ctx, http.MethodPost, r.h.APIURL+"/webhook", bytes.NewReader(p))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign(connector.PlatformAppSecret, p))
		resp, err := r.client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("webhook answered %d", resp.StatusCode)
		}
		// Posted by hand rather than by the simulator: tell it the
		// contact wrote, so its window is open for the text jobs.
		r.h.Sim.OpenWindow(connector.DemoPhoneNumberID, r.contact(i), time.Now())
		return nil
	})
	if err != nil {
		return err
	}
	return r.settle(want)
}

// outbound sends n text jobs as the core does and waits for each job's
// outbound.accepted and its three statuses.
// outbound queues n text jobs at rate (each changed by edit when set)
// and waits for their results and statuses at the core.
func (r *runner) outbound(n int, rate float64, edit func(*outbound.Job)) error {
	want := r.h.Sink.Stats().Accepted + 4*n
	queueURL := r.h.Stack.Names.Ref["OutboundQueue"]
	err := r.paced(n, rate, func(i int) error {
		id := fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), r.seq.Add(1))
		j := outbound.Job{JobID: id, TenantID: connector.DemoTenantID, PhoneNumberID: connector.DemoPhoneNumberID,
			To: "+" + r.contact(i), Type: "text", ClientRef: "bench-" + id, Text: &outbound.Text{Body: "bench reply"}}
		if edit != nil {
			edit(&j)
		}
		body, err := jsonString(j)
		if err != nil {
			return err
		}
		_, err = r.sqs.SendMessage(r.ctx, &sqs.SendMessageInput{
			QueueUrl: aws.String(queueURL), MessageBody: aws.String(body),
			MessageGroupId: aws.String(j.GroupID()), MessageDeduplicationId: aws.String(id),
		})
		return err
	})
	if err != nil {
		return err
	}
	return r.settle(want)
}

// settle waits until the core sink holds want events, then until the
// requests that follow the last push (the event source's delete) are done:
// no request but receives for a while.
func (r *runner) settle(want int) error {
	for r.h.Sink.Stats().Accepted < want {
		if r.ctx.Err() != nil {
			types := map[string]int{}
			for _, e := range r.h.Sink.Events() {
				var ev struct {
					Type   string `json:"type"`
					Status *struct {
						Current string `json:"current"`
					} `json:"status"`
				}
				_ = json.Unmarshal(e, &ev)
				if ev.Status != nil {
					ev.Type += "/" + ev.Status.Current
				}
				types[ev.Type]++
			}
			return fmt.Errorf("only %d of %d events reached the core sink before the timeout (by type: %v; simulator statuses %+v)",
				r.h.Sink.Stats().Accepted, want, types, r.h.Sim.StatusStats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	busy := func(m map[op]int64) int64 {
		var n int64
		for k, v := range m {
			if k.name != "ReceiveMessage" {
				n += v
			}
		}
		return n
	}
	last := busy(r.cnt.snapshot())
	for stable := 0; stable < 5; {
		time.Sleep(100 * time.Millisecond)
		now := busy(r.cnt.snapshot())
		if now == last {
			stable++
		} else {
			stable, last = 0, now
		}
	}
	return nil
}

// logOut is where the connector's warnings go: BENCH_LOG names a file,
// else they are discarded.
func logOut() io.Writer {
	if p := os.Getenv("BENCH_LOG"); p != "" {
		if f, err := os.Create(p); err == nil {
			return f
		}
	}
	return io.Discard
}
