// Command fairness benchmarks tenant isolation in the sender: tenant A
// enqueues a backlog of bulk (template) jobs on its number, limit L;
// tenant B enqueues a probe job every 2 s on a number of its own. Sender
// instances (sender.Setup, each with its own caches and limiter, as Lambda
// instances) take batches from one shared FIFO queue
// (local/bench/fifoqueue: groups oldest first, as SQS hands them out),
// and send through the Graph API simulator (local/graphsim); state lives
// in the embedded AWS emulator. It prints, last:
//
//	backlog=20000 probes=20 probe_wait_p50_s=… probe_wait_p99_s=… a_ratio=… duplicates=0 order_violations=0
//
// probe wait: from a probe's enqueueing to Meta's acceptance as the
// simulator saw it; a_ratio: A's achieved send rate / L while its backlog
// drains (first to last acceptance).
//
// Usage: go run ./local/bench/fairness [-backlog 20000] [-limit 80]
// [-probes 20] [-workers 8] [-quick] (BACKLOG, LIMIT, PROBES, WORKERS in
// the environment work too). -quick is -backlog 3000 -probes 10.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/bench/fifoqueue"
	"github.com/tucanlink/wacloud/local/coresink"
	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/outbound"
	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/sender"
	"github.com/tucanlink/wacloud/shared/tenant"
	"github.com/tucanlink/wacloud/shared/throttle"
)

const (
	numberA, numberB = "100000000000001", "100000000000002"
	tenantA, tenantB = "tenant-a", "tenant-b"
	// hot recipients of A get several jobs each, to check their order.
	hot, hotJobs = 10, 5
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

type options struct {
	backlog, limit, probes, workers int
	every                           time.Duration
	// cpuProfile, if set, is where the first profileFor of the run's CPU
	// profile goes (the start, when A's backlog is first deferred).
	cpuProfile string
	profileFor time.Duration
}

func main() {
	var o options
	quick := flag.Bool("quick", false, "a smaller run: -backlog 3000 -probes 10")
	flag.IntVar(&o.backlog, "backlog", envInt("BACKLOG", 20000), "tenant A's jobs, enqueued at once")
	flag.IntVar(&o.limit, "limit", envInt("LIMIT", 80), "messages per second of each number")
	flag.IntVar(&o.probes, "probes", envInt("PROBES", 20), "tenant B's probe jobs, one every 2 s")
	flag.IntVar(&o.workers, "workers", envInt("WORKERS", 8), "sender instances")
	flag.DurationVar(&o.every, "every", 2*time.Second, "time between probes")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the run's start to this file")
	flag.DurationVar(&o.profileFor, "profile-for", 5*time.Second, "how long -cpuprofile profiles")
	flag.Parse()
	if *quick {
		o.backlog, o.probes = 3000, 10
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench-fairness:", err)
		os.Exit(1)
	}
}

// queueAPI is an instance's SQS client: visibility changes go to the
// benchmark's FIFO queue, sends (events, dead letters) to the emulator.
type queueAPI struct {
	queue.SendAPI
	q *fifoqueue.Queue
}

func (a *queueAPI) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	a.q.SetVisibility(aws.ToString(in.ReceiptHandle), time.Duration(in.VisibilityTimeout)*time.Second)
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

func (a *queueAPI) ChangeMessageVisibilityBatch(_ context.Context, in *sqs.ChangeMessageVisibilityBatchInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	out := &sqs.ChangeMessageVisibilityBatchOutput{}
	for _, e := range in.Entries {
		a.q.SetVisibility(aws.ToString(e.ReceiptHandle), time.Duration(e.VisibilityTimeout)*time.Second)
		out.Successful = append(out.Successful, sqstypes.ChangeMessageVisibilityBatchResultEntry{Id: e.Id})
	}
	return out, nil
}

// job is a template job whose body parameter names it: "<id> seq <n>".
func job(tid, number, id, to string, seq int) (fifoqueue.Message, error) {
	j := outbound.Job{JobID: id, TenantID: tid, PhoneNumberID: number, To: to, Type: outbound.TypeTemplate,
		Template: &outbound.Template{Name: "campaign", Language: outbound.TemplateLanguage{Code: "en_US"},
			Components: []outbound.TemplateComponent{{Type: "body", Parameters: []outbound.TemplateParameter{
				{Type: "text", Text: fmt.Sprintf("%s seq %d", id, seq)}}}}}}
	b, err := json.Marshal(j)
	return fifoqueue.Message{ID: id, Body: string(b), Group: j.GroupID()}, err
}

func run(o options) error {
	ctx := context.Background()
	emu := awsemu.Start()
	defer emu.Close()
	cfg := emu.Config()
	sim := graphsim.New(graphsim.Config{Numbers: []graphsim.Number{
		{PhoneNumberID: numberA, AccessToken: "token-a", Throughput: o.limit},
		{PhoneNumberID: numberB, AccessToken: "token-b", Throughput: o.limit},
	}})
	defer sim.Close()
	_ = sim.SetStatusConfig(graphsim.StatusConfig{Disabled: true})
	// The benchmark measures pacing and isolation, not the messaging-limit
	// tier: A's campaign reaches 20,000 new recipients, past the
	// simulator's default TIER_1K, which would refuse all but ~1,000.
	for _, n := range []string{numberA, numberB} {
		sim.SetNumberStatus(n, func(st *graphsim.NumberStatus) { st.MessagingLimitTier = "TIER_UNLIMITED" })
	}
	graphSrv := httptest.NewServer(sim)
	defer graphSrv.Close()

	tmpl, err := stack.Load("template.yaml")
	if err != nil {
		return err
	}
	st, err := stack.Provision(ctx, cfg, tmpl, stack.Options{})
	if err != nil {
		return err
	}
	ddb := dynamodb.NewFromConfig(cfg)
	reg := &tenant.Registry{API: ddb, Table: st.Names.Ref["TenantsTable"]}
	for _, t := range []struct{ id, number, token string }{{tenantA, numberA, "token-a"}, {tenantB, numberB, "token-b"}} {
		secret := "wacloud/tenants/" + t.id
		if _, err := secretsmanager.NewFromConfig(cfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name: aws.String(secret), SecretString: aws.String(`{"access_token":"` + t.token + `"}`)}); err != nil {
			return err
		}
		if err := reg.Put(ctx, tenant.Tenant{ID: t.id, Status: tenant.StatusActive, SecretID: secret, PhoneNumbers: []string{t.number}},
			[]tenant.Number{{PhoneNumberID: t.number, TenantID: t.id, WABAID: "2" + t.number[1:], Throughput: o.limit}}); err != nil {
			return err
		}
	}

	// A's backlog: one job per recipient, and a few hot recipients with
	// several jobs each, interleaved; all enqueued at once.
	q := fifoqueue.New()
	seq := map[string]int{}
	for i := 0; i < o.backlog; i++ {
		to := fmt.Sprintf("+55119800%05d", i)
		if i%40 == 0 && i/40 < hot*hotJobs {
			to = fmt.Sprintf("+55119700%05d", (i/40)%hot)
		}
		m, err := job(tenantA, numberA, fmt.Sprintf("a-%d", i), to, seq[to])
		if err != nil {
			return err
		}
		seq[to]++
		q.Push(&m)
	}

	// The core the instances push their results to.
	fnEnv := st.Functions["SenderFunction"].Env
	_, coreSrv, err := coresink.Start(ctx, secretsmanager.NewFromConfig(cfg), fnEnv["CORE_SECRET_ID"], fnEnv["CORE_EVENTS_PATH"],
		slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	defer coreSrv.Close()
	env := map[string]string{"GRAPH_API_BASE_URL": graphSrv.URL, "S3_USE_PATH_STYLE": "true", "CORE_URL": coreSrv.URL}
	for k, v := range st.Functions["SenderFunction"].Env {
		if _, ok := env[k]; !ok {
			env[k] = v
		}
	}
	fmt.Fprintf(os.Stderr, "bench-fairness: backlog=%d limit=%d probes=%d every=%s workers=%d\n", o.backlog, o.limit, o.probes, o.every, o.workers)

	var stop atomic.Bool
	var wg sync.WaitGroup
	var deferred atomic.Int64
	for w := 0; w < o.workers; w++ {
		h, err := sender.Setup(ctx, func(k string) string { return env[k] }, cfg)
		if err != nil {
			return err
		}
		quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
		h.Log, h.Consumer.Log = quiet, quiet
		h.Metrics.Out = io.Discard
		api := &queueAPI{SendAPI: sqs.NewFromConfig(cfg), q: q}
		h.Consumer.API, h.Visibilities = api, api
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				msgs := q.Receive(10)
				if len(msgs) == 0 {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				ev := events.SQSEvent{}
				receipts := make([]string, 0, len(msgs))
				for _, m := range msgs {
					ev.Records = append(ev.Records, events.SQSMessage{MessageId: m.ID, ReceiptHandle: m.Receipt, Body: m.Body,
						Attributes: map[string]string{"MessageGroupId": m.Group, "MessageDeduplicationId": m.ID,
							"ApproximateReceiveCount": strconv.Itoa(m.Receives)}})
					receipts = append(receipts, m.Receipt)
				}
				resp, _ := h.Handle(ctx, ev)
				failed := map[string]bool{}
				for _, f := range resp.BatchItemFailures {
					failed[f.ItemIdentifier] = true
				}
				q.Complete(receipts, failed)
			}
			if l, ok := h.Numbers.(*throttle.Limiter); ok {
				deferred.Add(l.Stats(numberA).Deferred)
			}
		}()
	}

	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		time.AfterFunc(o.profileFor, func() { pprof.StopCPUProfile(); f.Close() })
	}

	// B's probes, one every o.every, each to a recipient of its own.
	start := time.Now()
	enqueued := map[string]time.Time{}
	for p := 0; p < o.probes; p++ {
		time.Sleep(time.Until(start.Add(time.Duration(p) * o.every)))
		id := fmt.Sprintf("b-%d", p)
		m, err := job(tenantB, numberB, id, fmt.Sprintf("+55119600%05d", p), 0)
		if err != nil {
			return err
		}
		enqueued[id] = time.Now()
		q.Push(&m)
	}

	// Wait for A's backlog to drain (or a deadline of twice its time).
	deadline := start.Add(2*time.Duration(float64(o.backlog)/float64(o.limit)*float64(time.Second)) + 2*time.Minute)
	for !q.Finished() && time.Now().Before(deadline) {
		time.Sleep(time.Second)
		s := sim.MessageStats()
		fmt.Fprintf(os.Stderr, "bench-fairness: %4.0fs accepted=%d e130429=%d left=%d\n", time.Since(start).Seconds(), s.Accepted, s.Throughput, q.Left())
	}
	stop.Store(true)
	wg.Wait()
	if !q.Finished() {
		fmt.Fprintf(os.Stderr, "bench-fairness: stopped at the deadline with %d jobs left\n", q.Left())
	}

	// Judge from what the simulator accepted.
	seen := map[string]int{}
	last := map[string]int{}
	var aTimes []time.Time
	var waits []float64
	probeWait := map[string]float64{}
	duplicates, violations := 0, 0
	for _, a := range sim.Messages() {
		var body struct {
			Template struct {
				Components []struct {
					Parameters []struct {
						Text string `json:"text"`
					} `json:"parameters"`
				} `json:"components"`
			} `json:"template"`
		}
		_ = json.Unmarshal(a.Body, &body)
		if len(body.Template.Components) == 0 || len(body.Template.Components[0].Parameters) == 0 {
			continue
		}
		var id string
		var n int
		if _, err := fmt.Sscanf(body.Template.Components[0].Parameters[0].Text, "%s seq %d", &id, &n); err != nil {
			continue
		}
		seen[id]++
		if seen[id] > 1 {
			duplicates++
			continue
		}
		if prev, ok := last[a.To]; ok && n < prev {
			violations++
		}
		last[a.To] = n
		switch {
		case strings.HasPrefix(id, "a-"):
			aTimes = append(aTimes, a.At)
		case strings.HasPrefix(id, "b-"):
			waits = append(waits, a.At.Sub(enqueued[id]).Seconds())
			probeWait[id] = a.At.Sub(enqueued[id]).Seconds()
		}
	}
	sort.Slice(aTimes, func(i, j int) bool { return aTimes[i].Before(aTimes[j]) })
	ratio := 0.0
	if n := len(aTimes); n > 1 {
		ratio = float64(n-1) / aTimes[n-1].Sub(aTimes[0]).Seconds() / float64(o.limit)
	}
	fmt.Fprintf(os.Stderr, "bench-fairness: probe waits in order (s):")
	for p := 0; p < o.probes; p++ {
		fmt.Fprintf(os.Stderr, " %.2f", probeWait[fmt.Sprintf("b-%d", p)])
	}
	fmt.Fprintln(os.Stderr)
	sort.Float64s(waits)
	stats := sim.MessageStats()
	fmt.Fprintf(os.Stderr, "bench-fairness: A sent %d of %d, B sent %d of %d probes, %d receives beyond the first, %d deferrals, e130429=%d, wall %.1fs\n",
		len(aTimes), o.backlog, len(waits), o.probes, q.Redeliveries(), deferred.Load(), stats.Throughput, time.Since(start).Seconds())
	if len(waits) < o.probes {
		fmt.Fprintf(os.Stderr, "bench-fairness: %d probes never sent (counted as the deadline's wait)\n", o.probes-len(waits))
		for len(waits) < o.probes {
			waits = append(waits, time.Since(start).Seconds())
		}
	}
	fmt.Printf("backlog=%d probes=%d probe_wait_p50_s=%.2f probe_wait_p99_s=%.2f a_ratio=%.2f duplicates=%d order_violations=%d\n",
		o.backlog, o.probes, quantile(waits, 0.50), quantile(waits, 0.99), ratio, duplicates, violations)
	return nil
}

// quantile is the q-quantile of sorted xs (nearest rank).
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	i := int(float64(len(xs))*q+0.999999) - 1
	return xs[min(max(i, 0), len(xs)-1)]
}
