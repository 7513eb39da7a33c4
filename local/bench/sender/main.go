// Command sender benchmarks the sender function's pacing: N workers, each
// a separate sender.Setup handler (own caches, own limiter state, as
// separate Lambda instances), send M jobs from one business number with
// limit L through the Graph simulator, against the embedded AWS emulator.
// It prints the achieved rate against L and the simulator's refusals, and
// checks that nothing was sent twice or out of order per recipient.
//
// Batches come from a FIFO dispatcher in this program rather than from
// the emulator's queue: the emulator puts a group's expired in-flight
// messages back in map order, so a group with several retried messages can
// be redelivered out of order, which would measure the emulator instead of
// the sender. The dispatcher keeps SQS FIFO semantics (a group waits while
// any of its messages is in flight; failed records come back after the
// visibility delay the handler sets; receive counts grow), and the
// handlers' other AWS calls (state table, message records, events, dead
// letters) go to the emulator.
//
// Usage: go run ./local/bench/sender [-limit 80] [-workers 8] [-jobs N]
// (LIMIT, WORKERS and JOBS in the environment work too).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/sivchari/kumo"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/outbound"
	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/sender"
	"github.com/tucanlink/wacloud/shared/tenant"
	"github.com/tucanlink/wacloud/shared/throttle"
	"github.com/tucanlink/wacloud/shared/window"
)

const (
	number = "100000000000001"
	token  = "bench-token"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func main() {
	limit := flag.Int("limit", envInt("LIMIT", 80), "messages per second of the business number")
	workers := flag.Int("workers", envInt("WORKERS", 8), "concurrent sender instances")
	jobs := flag.Int("jobs", envInt("JOBS", 0), "jobs to send (default: about 45 s of the limit, at most 15000)")
	hot := flag.Int("hot", envInt("HOT", 4), "hot recipients")
	hotJobs := flag.Int("hot-jobs", envInt("HOT_JOBS", 12), "jobs per hot recipient")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	mutexprofile := flag.String("mutexprofile", "", "write a mutex contention profile to this file")
	eventQueues := flag.Bool("event-queues", false, "give each instance its own core events queue (the emulator's FIFO deduplication scan)")
	direct := flag.Bool("direct", true, "handlers call kumo directly, not through awsemu's SQS-fixing front")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	if *mutexprofile != "" {
		runtime.SetMutexProfileFraction(5)
		defer func() {
			if f, err := os.Create(*mutexprofile); err == nil {
				_ = pprof.Lookup("mutex").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	if *jobs == 0 {
		*jobs = min(*limit*45, 15000)
	}
	if err := run(*limit, *workers, *jobs, *hot, *hotJobs, *direct, *eventQueues); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "bench-sender:", err)
		os.Exit(1)
	}
}

type job struct {
	id, to string
	seq    int // position among the recipient's jobs
}

// emulator starts kumo. direct: the handlers talk to kumo itself rather
// than through awsemu's front (a reverse proxy that completes SQS receive
// answers, which no handler here makes); the front doubles the HTTP work
// of every call on the machine that also runs the handlers.
func emulator(direct bool) (aws.Config, func()) {
	if !direct {
		emu := awsemu.Start()
		return emu.Config(), emu.Close
	}
	srv := kumo.NewServer()
	return aws.Config{
		Region:       awsemu.Region,
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint: aws.String(srv.URL),
		HTTPClient:   awshttp.NewBuildableClient(),
	}, srv.Close
}

// instanceConfig gives a handler its own HTTP connection pool, as a
// separate Lambda instance has (config.LoadDefaultConfig's client, with
// room for a batch's concurrent calls). Sharing one pool of two idle
// connections made every instance dial and close a connection per call.
func instanceConfig(cfg aws.Config, calls *callCounter) aws.Config {
	c := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConnsPerHost = 32
	})
	cfg.HTTPClient = &http.Client{Transport: countingTransport{next: c, calls: calls}}
	return cfg
}

// callCounter counts the handlers' AWS calls by operation (X-Amz-Target).
type callCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *callCounter) add(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[op]++
}

// perMessage lists the operations, most frequent first, per message sent.
func (c *callCounter) perMessage(messages int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	type opCount struct {
		op string
		n  int
	}
	var ops []opCount
	total := 0
	for op, n := range c.n {
		ops = append(ops, opCount{op, n})
		total += n
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].n > ops[j].n })
	var b strings.Builder
	fmt.Fprintf(&b, "%.2f AWS calls per message:", float64(total)/float64(max(messages, 1)))
	for _, o := range ops {
		fmt.Fprintf(&b, " %s %.2f", o.op, float64(o.n)/float64(max(messages, 1)))
	}
	return b.String()
}

type countingTransport struct {
	next interface {
		Do(*http.Request) (*http.Response, error)
	}
	calls *callCounter
}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	op := r.Header.Get("X-Amz-Target")
	if i := strings.LastIndexByte(op, '.'); i >= 0 {
		op = op[i+1:]
	}
	if op == "" {
		op = r.Method + " " + r.URL.Path
	}
	t.calls.add(op)
	return t.next.Do(r)
}

func run(limit, workers, total, hot, hotJobs int, direct, eventQueues bool) error {
	ctx := context.Background()
	cfg, stop := emulator(direct)
	defer stop()
	tmpl, err := stack.Load("template.yaml")
	if err != nil {
		return err
	}
	st, err := stack.Provision(ctx, cfg, tmpl, stack.Options{})
	if err != nil {
		return err
	}
	ddb := dynamodb.NewFromConfig(cfg)
	sim := graphsim.New(graphsim.Config{Numbers: []graphsim.Number{{PhoneNumberID: number, AccessToken: token, Throughput: limit}}})
	_ = sim.SetStatusConfig(graphsim.StatusConfig{Disabled: true})
	defer sim.Close()
	srv := httptest.NewServer(sim)
	defer srv.Close()

	secret := "wacloud/tenants/bench"
	if _, err := secretsmanager.NewFromConfig(cfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(secret), SecretString: aws.String(`{"access_token":"` + token + `"}`)}); err != nil {
		return err
	}
	reg := &tenant.Registry{API: ddb, Table: st.Names.Ref["TenantsTable"]}
	if err := reg.Put(ctx, tenant.Tenant{ID: "bench", Status: tenant.StatusActive, SecretID: secret, PhoneNumbers: []string{number}},
		[]tenant.Number{{PhoneNumberID: number, TenantID: "bench", WABAID: "200000000000001", Throughput: limit}}); err != nil {
		return err
	}

	// Jobs: a few hot recipients with many jobs each (they meet the pair
	// limit), the rest spread over many recipients, interleaved.
	var list []job
	perTo := map[string]int{}
	add := func(to string) {
		list = append(list, job{id: fmt.Sprintf("bench-%d", len(list)), to: to, seq: perTo[to]})
		perTo[to]++
	}
	for i := 0; len(list) < total; i++ {
		if i%20 == 0 && i/20 < hot*hotJobs {
			add(fmt.Sprintf("+55119700%05d", (i/20)%hot))
			continue
		}
		add(fmt.Sprintf("+55119800%05d", i%max(total/3, 1)))
	}
	if err := openWindows(ctx, ddb, st.Names.Ref["StateTable"], perTo); err != nil {
		return err
	}

	q := newFIFO()
	for _, j := range list {
		b, _ := json.Marshal(outbound.Job{JobID: j.id, TenantID: "bench", PhoneNumberID: number, To: j.to, Type: outbound.TypeText,
			Text: &outbound.Text{Body: fmt.Sprintf("bench %s seq %d", j.id, j.seq)}})
		oj := outbound.Job{TenantID: "bench", PhoneNumberID: number, To: j.to}
		q.push(&message{id: j.id, body: string(b), group: oj.GroupID()})
	}

	getenv := func(k string) string {
		switch k {
		case "GRAPH_API_BASE_URL":
			return srv.URL
		case "S3_USE_PATH_STYLE":
			return "true"
		}
		return st.Functions["SenderFunction"].Env[k]
	}
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	sq := sqs.NewFromConfig(cfg)
	fmt.Fprintf(os.Stderr, "bench-sender: limit=%d workers=%d jobs=%d recipients=%d hot=%dx%d\n", limit, workers, len(list), len(perTo), hot, hotJobs)

	start := time.Now()
	deadline := start.Add(time.Duration(total/limit)*time.Second*2 + 60*time.Second)
	var wg sync.WaitGroup
	var invocations atomic.Int64
	var limiters []*throttle.Limiter
	calls := &callCounter{}
	for w := 0; w < workers; w++ {
		getenv := getenv
		if eventQueues {
			// The emulator scans a FIFO queue's whole deduplication cache
			// on every send; with one events queue that scan grows with
			// every result of the run. A queue per instance keeps it short.
			out, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(fmt.Sprintf("bench-core-events-%d.fifo", w)),
				Attributes: map[string]string{"FifoQueue": "true"}})
			if err != nil {
				return err
			}
			url, base := aws.ToString(out.QueueUrl), getenv
			getenv = func(k string) string {
				if k == "CORE_EVENTS_QUEUE_URL" {
					return url
				}
				return base(k)
			}
		}
		h, err := sender.Setup(ctx, getenv, instanceConfig(cfg, calls))
		if err != nil {
			return err
		}
		if l, ok := h.Numbers.(*throttle.Limiter); ok {
			limiters = append(limiters, l)
		}
		h.Log, h.Consumer.Log = quiet, quiet
		h.Metrics.Out = io.Discard
		h.Consumer.API = &visibility{SendAPI: sq, q: q}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !q.finished() && time.Now().Before(deadline) {
				batch := q.receive(10)
				if len(batch) == 0 {
					time.Sleep(2 * time.Millisecond)
					continue
				}
				invocations.Add(1)
				ev := events.SQSEvent{}
				for _, m := range batch {
					ev.Records = append(ev.Records, events.SQSMessage{MessageId: m.id, ReceiptHandle: m.receipt, Body: m.body,
						Attributes: map[string]string{"MessageGroupId": m.group, "MessageDeduplicationId": m.id,
							"ApproximateReceiveCount": strconv.Itoa(m.receives)}})
				}
				resp, _ := h.Handle(ctx, ev)
				q.complete(batch, resp.BatchItemFailures)
			}
		}()
	}
	progress := time.NewTicker(5 * time.Second)
	go func() {
		for range progress.C {
			st := sim.MessageStats()
			fmt.Fprintf(os.Stderr, "bench-sender: %4.0fs accepted=%d e130429=%d e131056=%d left=%d\n",
				time.Since(start).Seconds(), st.Accepted, st.Throughput, st.Pair, q.left())
		}
	}()
	wg.Wait()
	progress.Stop()
	if !q.finished() {
		fmt.Fprintf(os.Stderr, "bench-sender: stopped at the deadline with %d jobs left\n", q.left())
	}

	// Judge from what the simulator accepted, in acceptance order.
	seen := map[string]int{}
	last := map[string]int{}
	duplicates, violations := 0, 0
	accepted := sim.Messages()
	for _, a := range accepted {
		var body struct {
			To   string `json:"to"`
			Text struct {
				Body string `json:"body"`
			} `json:"text"`
		}
		_ = json.Unmarshal(a.Body, &body)
		var id string
		var seq int
		if _, err := fmt.Sscanf(body.Text.Body, "bench %s seq %d", &id, &seq); err != nil {
			continue
		}
		seen[id]++
		if seen[id] > 1 {
			duplicates++
			continue
		}
		if prev, ok := last[body.To]; ok && seq < prev {
			violations++
		}
		last[body.To] = seq
	}
	ratio := 0.0
	if n := len(accepted); n > 1 {
		span := accepted[n-1].At.Sub(accepted[0].At).Seconds()
		ratio = float64(n-1) / span / float64(limit)
	}
	if os.Getenv("BENCH_TIMELINE") != "" && len(accepted) > 0 {
		per := map[int]int{}
		last := 0
		for _, a := range accepted {
			sec := int(a.At.Sub(accepted[0].At) / time.Second)
			per[sec]++
			last = max(last, sec)
		}
		for sec := 0; sec <= last; sec++ {
			fmt.Fprintf(os.Stderr, "bench-sender: second %2d accepted %d\n", sec, per[sec])
		}
		for _, a := range accepted[max(0, len(accepted)-12):] {
			fmt.Fprintf(os.Stderr, "bench-sender: late %s %s %s\n", a.At.Sub(accepted[0].At).Round(time.Millisecond), a.To, a.Body)
		}
	}
	stats := sim.MessageStats()
	var ls throttle.Stats
	for _, l := range limiters {
		s := l.Stats(number)
		ls.Stale, ls.Leases, ls.Idle, ls.Slots = ls.Stale+s.Stale, ls.Leases+s.Leases, ls.Idle+s.Idle, ls.Slots+s.Slots
	}
	fmt.Fprintf(os.Stderr, "bench-sender: %d invocations, %d receives beyond the first, wall %.1fs, busiest second %d\n",
		invocations.Load(), q.redeliveries(), time.Since(start).Seconds(), busiest(accepted))
	fmt.Fprintf(os.Stderr, "bench-sender: %s\n", calls.perMessage(len(accepted)))
	fmt.Fprintf(os.Stderr, "bench-sender: limiter: %d leases (%d found the schedule idle), %d slots, %d given up late\n",
		ls.Leases, ls.Idle, ls.Slots, ls.Stale)
	fmt.Printf("limit=%d sent=%d ratio=%.2f e130429=%d e131056=%d duplicates=%d order_violations=%d\n",
		limit, len(seen), ratio, stats.Throughput, stats.Pair, duplicates, violations)
	return nil
}

// busiest is the most acceptances in any one-second window.
func busiest(acc []graphsim.Accepted) int {
	ts := make([]time.Time, len(acc))
	for i, a := range acc {
		ts[i] = a.At
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	best := 0
	for i := range ts {
		j := sort.Search(len(ts), func(k int) bool { return !ts[k].Before(ts[i].Add(time.Second)) })
		best = max(best, j-i)
	}
	return best
}

func openWindows(ctx context.Context, ddb *dynamodb.Client, table string, recipients map[string]int) error {
	w := window.Store{API: ddb, Table: table}
	tos := make(chan string)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for to := range tos {
				if err := w.RecordInbound(ctx, number, strings.TrimPrefix(to, "+"), time.Now().Add(-time.Minute)); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for to := range recipients {
		tos <- to
	}
	close(tos)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// visibility is the handlers' SQS client: sends (events, dead letters) go
// to the emulator; visibility changes of outbound records go to the
// dispatcher.
type visibility struct {
	queue.SendAPI
	q *fifo
}

func (v *visibility) ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	v.q.setVisibility(aws.ToString(in.ReceiptHandle), time.Duration(in.VisibilityTimeout)*time.Second)
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

type message struct {
	id, body, group string
	receives        int
	receipt         string
	visibleAt       time.Time
}

// fifo is an in-memory SQS FIFO queue: groups in order, a group blocked
// while any of its messages is in flight.
type fifo struct {
	mu        sync.Mutex
	groups    map[string][]*message
	order     []string // groups with messages, by their first message
	inflight  map[string]bool
	byReceipt map[string]*message
	pending   int
	redeliver int
	seq       int
}

func newFIFO() *fifo {
	return &fifo{groups: map[string][]*message{}, inflight: map[string]bool{}, byReceipt: map[string]*message{}}
}

func (f *fifo) push(m *message) {
	if _, ok := f.groups[m.group]; !ok {
		f.order = append(f.order, m.group)
	}
	f.groups[m.group] = append(f.groups[m.group], m)
	f.pending++
}

// receive hands out up to n messages: from each available group, its
// visible head messages in order, groups taken oldest first (in the order
// their first message was sent), as SQS favours the oldest messages. A
// rotating pointer instead passes a group that is busy at that moment and
// comes back to it only after all the others: with thousands of groups a
// hot recipient waited most of the run.
func (f *fifo) receive(n int) []*message {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	var out []*message
	drained := 0
	for _, g := range f.order {
		if len(out) >= n {
			break
		}
		msgs := f.groups[g]
		if len(msgs) == 0 && !f.inflight[g] {
			drained++
			continue
		}
		if f.inflight[g] || msgs[0].visibleAt.After(now) {
			continue
		}
		for _, m := range msgs {
			if len(out) >= n || m.visibleAt.After(now) {
				break
			}
			f.seq++
			m.receives++
			if m.receives > 1 {
				f.redeliver++
			}
			m.receipt = fmt.Sprintf("r%d", f.seq)
			f.byReceipt[m.receipt] = m
			out = append(out, m)
		}
		f.inflight[g] = true
	}
	if drained > 0 {
		kept := f.order[:0]
		for _, g := range f.order {
			if len(f.groups[g]) > 0 || f.inflight[g] {
				kept = append(kept, g)
			}
		}
		f.order = kept
	}
	return out
}

func (f *fifo) setVisibility(receipt string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m, ok := f.byReceipt[receipt]; ok {
		m.visibleAt = time.Now().Add(d)
	}
}

// complete deletes the batch's successes (the heads of their groups) and
// releases the groups.
func (f *fifo) complete(batch []*message, failures []events.SQSBatchItemFailure) {
	failed := map[string]bool{}
	for _, fl := range failures {
		failed[fl.ItemIdentifier] = true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range batch {
		delete(f.byReceipt, m.receipt)
		if !failed[m.id] {
			g := f.groups[m.group]
			if len(g) > 0 && g[0] == m {
				f.groups[m.group] = g[1:]
				f.pending--
			}
		}
		f.inflight[m.group] = false
	}
}

func (f *fifo) finished() bool { return f.left() == 0 }

func (f *fifo) left() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pending
}

func (f *fifo) redeliveries() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.redeliver
}
