// Command sender benchmarks the sender function's pacing: N sender
// instances send M jobs from one business number with limit L through the
// Graph API simulator. Every part runs in its own process, as in
// production: each sender instance (sender.Setup with the function's
// environment: its own memory, caches, limiter state and connections, as
// a Lambda instance), the AWS emulator (kumo) and the Graph API simulator.
// The instances coordinate only through the emulated DynamoDB, so a
// limiter that works inside one process only fails this benchmark. It
// prints the achieved rate against L and the simulator's refusals, and
// checks that nothing was sent twice or out of order per recipient.
//
// Batches come from a FIFO dispatcher in this program, over HTTP, rather
// than from the emulator's queue: the emulator puts a group's expired
// in-flight messages back in map order, so a group with several retried
// messages can be redelivered out of order, which would measure the
// emulator instead of the sender. The dispatcher keeps SQS FIFO semantics
// (a group waits while any of its messages is in flight; failed records
// come back after the visibility delay the handler sets; receive counts
// grow), and the instances' other AWS calls (state table, message
// records, events, dead letters) go to the emulator.
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
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/local/bench/fifoqueue"
	"github.com/tucanlink/wacloud/local/coresink"
	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/outbound"
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

// options are the benchmark's settings.
type options struct {
	limit, workers, jobs, hot, hotJobs int
	emulatorGOGC                       int
	eventQueues, processes             bool
	coreLatency                        time.Duration
	cpuprofile                         string
}

func main() {
	var o options
	flag.IntVar(&o.limit, "limit", envInt("LIMIT", 80), "messages per second of the business number")
	flag.IntVar(&o.workers, "workers", envInt("WORKERS", 8), "concurrent sender instances (processes)")
	flag.IntVar(&o.jobs, "jobs", envInt("JOBS", 0), "jobs to send (default: about 45 s of the limit, at most 15000)")
	flag.IntVar(&o.hot, "hot", envInt("HOT", 4), "hot recipients")
	flag.IntVar(&o.hotJobs, "hot-jobs", envInt("HOT_JOBS", 12), "jobs per hot recipient")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write CPU profiles to this path plus .bench, .aws, .graph and .worker-N")
	flag.IntVar(&o.emulatorGOGC, "emulator-gogc", 400, "GOGC of the AWS emulator and Graph API simulator processes")
	flag.DurationVar(&o.coreLatency, "core-latency", 0, "the core answers each push of a result this much later (a core that answers in 100 ms: 100ms)")
	flag.BoolVar(&o.processes, "processes", false, "run each sender instance in a process of its own rather than in this one")
	flag.BoolVar(&o.eventQueues, "event-queues", false, "give each instance its own core events queue (shortens the emulator's FIFO deduplication scan)")
	role := flag.String("role", "", "internal: run as the aws, graph or worker process")
	awsURL := flag.String("aws", "", "internal: the emulator's address (worker)")
	dispatchURL := flag.String("dispatch", "", "internal: the dispatcher's address (worker)")
	flag.Parse()

	var err error
	stopProfile := func() {}
	if *role != "" {
		stopProfile = profile(o.cpuprofile)
	}
	switch *role {
	case "aws":
		serveAWS()
	case "graph":
		serveGraph(o.limit)
	case "worker":
		err = runWorker(*awsURL, *dispatchURL)
	case "":
		if o.jobs == 0 {
			o.jobs = min(o.limit*45, 15000)
		}
		err = run(o)
	default:
		err = fmt.Errorf("unknown role %q", *role)
	}
	stopProfile()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-sender:", err)
		os.Exit(1)
	}
}

// acceptedMessage is a message as the simulator's GET /_sim/messages
// lists it.
type acceptedMessage struct {
	To   string          `json:"to"`
	Body json.RawMessage `json:"body"`
	At   time.Time       `json:"accepted_at"`
}

type job struct {
	id, to string
	seq    int // position among the recipient's jobs
}

// childProfile is the -cpuprofile argument of a child process.
func (o options) childProfile(suffix string) []string {
	if o.cpuprofile == "" {
		return nil
	}
	return []string{"-cpuprofile", o.cpuprofile + "." + suffix}
}

func run(o options) error {
	ctx := context.Background()
	if o.cpuprofile != "" {
		stop := profile(o.cpuprofile + ".bench")
		defer stop()
	}
	awsProc, awsURL, err := startServer("aws emulator", o.emulatorGOGC, append([]string{"-role", "aws"}, o.childProfile("aws")...)...)
	if err != nil {
		return err
	}
	defer awsProc.stop()
	graphProc, graphURL, err := startServer("graph simulator", o.emulatorGOGC,
		append([]string{"-role", "graph", "-limit", strconv.Itoa(o.limit)}, o.childProfile("graph")...)...)
	if err != nil {
		return err
	}
	defer graphProc.stop()

	cfg := awsConfig(awsURL)
	tmpl, err := stack.Load("template.yaml")
	if err != nil {
		return err
	}
	st, err := stack.Provision(ctx, cfg, tmpl, stack.Options{})
	if err != nil {
		return err
	}
	ddb := dynamodb.NewFromConfig(cfg)
	secret := "wacloud/tenants/bench"
	if _, err := secretsmanager.NewFromConfig(cfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(secret), SecretString: aws.String(`{"access_token":"` + token + `"}`)}); err != nil {
		return err
	}
	reg := &tenant.Registry{API: ddb, Table: st.Names.Ref["TenantsTable"]}
	if err := reg.Put(ctx, tenant.Tenant{ID: "bench", Status: tenant.StatusActive, SecretID: secret, PhoneNumbers: []string{number}},
		[]tenant.Number{{PhoneNumberID: number, TenantID: "bench", WABAID: "200000000000001", Throughput: o.limit}}); err != nil {
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
	for i := 0; len(list) < o.jobs; i++ {
		if i%20 == 0 && i/20 < o.hot*o.hotJobs {
			add(fmt.Sprintf("+55119700%05d", (i/20)%o.hot))
			continue
		}
		add(fmt.Sprintf("+55119800%05d", i%max(o.jobs/3, 1)))
	}
	if err := openWindows(ctx, ddb, st.Names.Ref["StateTable"], perTo); err != nil {
		return err
	}
	q := fifoqueue.New()
	for _, j := range list {
		b, _ := json.Marshal(outbound.Job{JobID: j.id, TenantID: "bench", PhoneNumberID: number, To: j.to, Type: outbound.TypeText,
			Text: &outbound.Text{Body: fmt.Sprintf("bench %s seq %d", j.id, j.seq)}})
		oj := outbound.Job{TenantID: "bench", PhoneNumberID: number, To: j.to}
		q.Push(&fifoqueue.Message{ID: j.id, Body: string(b), Group: oj.GroupID()})
	}

	// The core the instances push their results to.
	fnEnv := st.Functions["SenderFunction"].Env
	core, coreSrv, err := coresink.Start(ctx, secretsmanager.NewFromConfig(cfg), fnEnv["CORE_SECRET_ID"], fnEnv["CORE_EVENTS_PATH"],
		slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	defer coreSrv.Close()
	core.SetLatency(o.coreLatency)
	// The function's environment, as the template declares it.
	env := []string{"GRAPH_API_BASE_URL=" + graphURL, "S3_USE_PATH_STYLE=true", "CORE_URL=" + coreSrv.URL}
	for k, v := range st.Functions["SenderFunction"].Env {
		if k != "GRAPH_API_BASE_URL" && k != "S3_USE_PATH_STYLE" && k != "CORE_URL" {
			env = append(env, k+"="+v)
		}
	}
	fmt.Fprintf(os.Stderr, "bench-sender: limit=%d workers=%d jobs=%d recipients=%d hot=%dx%d\n",
		o.limit, o.workers, len(list), len(perTo), o.hot, o.hotJobs)

	start := time.Now()
	deadline := start.Add(time.Duration(o.jobs/o.limit)*time.Second*2 + 60*time.Second)
	var invocations int64
	disp := httptest.NewServer(fifoqueue.Handler(q, deadline, &invocations))
	defer disp.Close()
	sq := sqs.NewFromConfig(cfg)
	reports := make([]workerReport, o.workers)
	errs := make([]error, o.workers)
	var wg sync.WaitGroup
	for w := 0; w < o.workers; w++ {
		wenv := env
		if o.eventQueues {
			// The emulator scans a FIFO queue's whole deduplication cache
			// on every send; with one events queue that scan grows with
			// every result of the run. A queue per instance keeps it short.
			out, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(fmt.Sprintf("bench-core-events-%d.fifo", w)),
				Attributes: map[string]string{"FifoQueue": "true"}})
			if err != nil {
				return err
			}
			wenv = append(append([]string(nil), env...), "CORE_EVENTS_QUEUE_URL="+aws.ToString(out.QueueUrl))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if o.processes {
				args := append([]string{"-role", "worker", "-aws", awsURL, "-dispatch", disp.URL}, o.childProfile(fmt.Sprintf("worker-%d", w))...)
				reports[w], errs[w] = instanceProcess(fmt.Sprintf("sender instance %d", w), args, wenv)
				return
			}
			reports[w], errs[w] = runInstance(ctx, lookup(wenv), awsURL, disp.URL)
		}()
	}
	simStats := func() (graphsim.MessageStats, error) {
		var s graphsim.MessageStats
		return s, getJSON(graphURL+"/_sim/messages/stats", &s)
	}
	progress := time.NewTicker(5 * time.Second)
	go func() {
		for range progress.C {
			if s, err := simStats(); err == nil {
				fmt.Fprintf(os.Stderr, "bench-sender: %4.0fs accepted=%d e130429=%d e131056=%d left=%d\n",
					time.Since(start).Seconds(), s.Accepted, s.Throughput, s.Pair, q.Left())
			}
		}
	}()

	wg.Wait()
	progress.Stop()
	wall := time.Since(start)
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	if !q.Finished() {
		fmt.Fprintf(os.Stderr, "bench-sender: stopped at the deadline with %d jobs left\n", q.Left())
	}

	// Judge from what the simulator accepted, in acceptance order.
	var accepted []acceptedMessage
	if err := getJSON(graphURL+"/_sim/messages", &accepted); err != nil {
		return err
	}
	stats, err := simStats()
	if err != nil {
		return err
	}
	seen := map[string]int{}
	last := map[string]int{}
	duplicates, violations := 0, 0
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
		ratio = float64(n-1) / span / float64(o.limit)
	}
	if os.Getenv("BENCH_TIMELINE") != "" && len(accepted) > 0 {
		timeline(accepted)
	}
	calls := map[string]int{}
	var ls throttle.Stats
	for _, r := range reports {
		for op, n := range r.Calls {
			calls[op] += n
		}
		s := r.Limiter
		ls.Stale, ls.Unused, ls.Leases, ls.Idle, ls.Slots, ls.Calls = ls.Stale+s.Stale, ls.Unused+s.Unused, ls.Leases+s.Leases, ls.Idle+s.Idle, ls.Slots+s.Slots, ls.Calls+s.Calls
	}
	fmt.Fprintf(os.Stderr, "bench-sender: %d invocations, %d receives beyond the first, wall %.1fs, busiest second %d, ratio %.4f\n",
		invocations, q.Redeliveries(), wall.Seconds(), busiest(accepted), ratio)
	fmt.Fprintf(os.Stderr, "bench-sender: %s\n", perMessage(calls, len(accepted)))
	fmt.Fprintf(os.Stderr, "bench-sender: limiter: %d leases in %d calls (%d found the schedule idle), %d slots, %d given up (%d nobody took in time, %d taken by a send that woke too late)\n",
		ls.Leases, ls.Calls, ls.Idle, ls.Slots, ls.Stale, ls.Unused, ls.Stale-ls.Unused)
	fmt.Printf("limit=%d sent=%d ratio=%.2f e130429=%d e131056=%d duplicates=%d order_violations=%d\n",
		o.limit, len(seen), ratio, stats.Throughput, stats.Pair, duplicates, violations)
	return nil
}

// lookup is getenv over a list of KEY=value.
func lookup(env []string) func(string) string {
	m := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return func(k string) string { return m[k] }
}

// timeline prints acceptances per second and the last 12 accepted.
func timeline(accepted []acceptedMessage) {
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

func getJSON(url string, out any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// busiest is the most acceptances in any one-second window.
func busiest(acc []acceptedMessage) int {
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
