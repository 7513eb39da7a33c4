// Command campaign benchmarks a campaign through make local's pieces: the
// connector (local/connector: embedded AWS emulator provisioned from
// template.yaml, Graph API simulator, core sink, and the pollers of every
// queue-driven function but the campaign runner) in this process, and the
// campaign runner (campaign.Setup with CampaignFunction's environment,
// as make local-fn FN=campaign runs it) in a process of its own, so its
// memory is measured alone. -split runs the sender, status, bridge,
// inbound and media functions in processes of their own too, as make
// local-fn runs them and as Lambda gives each its own execution
// environment, and leaves this process the stand-ins alone.
//
// Tenant A runs a campaign of ROWS rows on a number of L msg/s whose
// portfolio's tier is unlimited (set in the simulator); tenant B sends a
// probe job every 2 s on its own number. When half of A's rows have been
// accepted, the runner's invocation is stopped (its context cancelled, as
// a timeout ends it: in-flight AWS calls fail, the rows after its last
// checkpoint stay uncommitted, its command goes back as a batch item
// failure, which the runner returns to the queue after its retry backoff,
// 10 s on a first receive) and its process exits; a new runner process
// takes the command when it comes back. It prints, last:
//
//	rows=50000 accepted=50000 duplicates=0 ratio=0.96 runner_peak_rss_mb=40 probe_wait_p99_s=0.4
//
// accepted: A's recipients the simulator accepted a template for;
// duplicates: A's recipients it accepted more than one for; ratio: A's
// accepted rate (first to last acceptance, the stop included) / L;
// runner_peak_rss_mb: the larger of the two runner processes' peak
// resident set (VmHWM); probe_wait_p99_s: from a probe's enqueueing to
// its acceptance.
//
// -tier 2000 (TIER=2000) instead sets A's portfolio to TIER_2K and runs
// ROWS (5000 then) without a stop, and prints the recipients accepted
// and the campaign's state once it stops sending:
//
//	rows=5000 tier=2000 queued=2000 accepted=2000 duplicates=0 state=waiting_for_capacity
//
// Usage: go run ./local/bench/campaign [-rows 50000] [-limit 1000] [-tier 0]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/local/connector"
	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/shared/campaign"
	"github.com/tucanlink/wacloud/shared/catalog"
	"github.com/tucanlink/wacloud/shared/outbound"
	"github.com/tucanlink/wacloud/shared/queue"
)

const (
	tenantA, numberA, wabaA = "bench-a", "100000000000101", "200000000000101"
	tenantB, numberB, wabaB = "bench-b", "100000000000102", "200000000000102"
	tplName, tplLang        = "seasonal_promotion_text_only", "en"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

type options struct {
	rows, limit, tier, pollers int
	every                      time.Duration
	// cpuProfile, if set, is where a CPU profile of this process (the
	// connector: emulator, simulators and every function but the
	// runner) over the whole run is written.
	cpuProfile string
	// profileEvery, with cpuProfile, writes one profile per window
	// (cpuProfile.0, .1, …) instead of one over the run, to compare the
	// start of a long run with its end.
	profileEvery time.Duration
	// split runs the sender, status, bridge, inbound and media
	// functions in processes of their own (else in this one).
	split bool
	// gogc is this process's garbage collector target when it holds the
	// stand-ins alone (-split).
	gogc int
	// memProfile, if set, is where this process's allocation profile is
	// written at the end.
	memProfile string
	// stopAt is the fraction of the rows after which the runner's
	// invocation is stopped and resumed (0: never).
	stopAt float64
	// kill kills the runner's process outright at the stop (SIGKILL)
	// instead of stopping its invocation: the command comes back when
	// the killed run's lease has ended (shared/campaign/keep.go).
	kill bool
}

func main() {
	role := flag.String("role", "", "internal: runner (a campaign runner process), function (-fn)")
	fn := flag.String("fn", "", "internal: the function a -role function process runs")
	flag.BoolVar(&runnerDebug, "runner-debug", false, "log the runner's checkpoints (pacing, back-pressure) at debug level")
	state := flag.String("state", "", "internal: the connector's state file (runner role)")
	var o options
	flag.IntVar(&o.tier, "tier", envInt("TIER", 0), "A's messaging-limit tier (0: unlimited; 2000: the tier walk)")
	flag.IntVar(&o.rows, "rows", envInt("ROWS", 0), "audience rows (default 50000, with -tier 5000)")
	flag.IntVar(&o.limit, "limit", envInt("LIMIT", 1000), "A's number throughput, msg/s")
	flag.IntVar(&o.pollers, "pollers", envInt("POLLERS", 16), "concurrent batches per queue (function instances)")
	flag.DurationVar(&o.every, "every", 2*time.Second, "time between B's probes")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the connector process over the run to this file")
	flag.DurationVar(&o.profileEvery, "profile-every", 0, "with -cpuprofile: a profile per window of this length (file.0, file.1, …)")
	flag.BoolVar(&o.split, "split", false, "run the sender, status, bridge, inbound and media functions in processes of their own, not in the connector's")
	flag.IntVar(&o.gogc, "stand-in-gogc", 400, "with -split: GOGC of this process, which then holds the stand-ins alone (as bench-sender's -emulator-gogc)")
	flag.StringVar(&o.memProfile, "memprofile", "", "write this process's allocation profile (go tool pprof -sample_index=alloc_space) to this file at the end")
	flag.Float64Var(&o.stopAt, "stop-at", 0.5, "stop the runner's invocation once this fraction of the rows is accepted, and resume it (0: never)")
	flag.BoolVar(&o.kill, "kill", false, "at the stop, kill the runner's process outright (SIGKILL: no word to the queue) instead of stopping its invocation")
	flag.Parse()
	if o.rows <= 0 {
		o.rows = 50000
		if o.tier > 0 {
			o.rows = 5000
		}
	}
	if *role == "function" {
		if err := function(*state, *fn, o.pollers); err != nil {
			fmt.Fprintln(os.Stderr, "bench-campaign", *fn+":", err)
			os.Exit(1)
		}
		return
	}
	if *role == "runner" {
		if err := runner(*state); err != nil {
			fmt.Fprintln(os.Stderr, "bench-campaign runner:", err)
			os.Exit(1)
		}
		return
	}
	stopProfile, err := startProfile(o.cpuProfile, o.profileEvery)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-campaign:", err)
		os.Exit(1)
	}
	defer stopProfile()
	if o.memProfile != "" {
		defer func() {
			f, err := os.Create(o.memProfile)
			if err != nil {
				fmt.Fprintln(os.Stderr, "bench-campaign:", err)
				return
			}
			defer f.Close()
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
		}()
	}
	if err := run(o); err != nil {
		stopProfile()
		fmt.Fprintln(os.Stderr, "bench-campaign:", err)
		os.Exit(1)
	}
}

// startProfile profiles the process's CPU into path, or with every > 0
// into path.0, path.1, … one window each; the returned func ends it.
func startProfile(path string, every time.Duration) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	var mu sync.Mutex
	var f *os.File
	begin := func(name string) error {
		var err error
		if f, err = os.Create(name); err != nil {
			return err
		}
		return pprof.StartCPUProfile(f)
	}
	end := func() {
		pprof.StopCPUProfile()
		if f != nil {
			f.Close()
			f = nil
		}
	}
	name := path
	if every > 0 {
		name = path + ".0"
	}
	if err := begin(name); err != nil {
		return nil, err
	}
	done := make(chan struct{})
	if every > 0 {
		go func() {
			for i := 1; ; i++ {
				select {
				case <-done:
					return
				case <-time.After(every):
				}
				mu.Lock()
				end()
				if err := begin(fmt.Sprintf("%s.%d", path, i)); err != nil {
					logf("profile: %v", err)
				}
				mu.Unlock()
			}
		}()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			mu.Lock()
			end()
			mu.Unlock()
		})
	}, nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench-campaign: "+format+"\n", args...)
}

// functions are the queue-driven functions the campaign's messages pass
// (the runner aside).
var functions = []string{"SenderFunction", "StatusFunction", "BridgeFunction", "InboundFunction", "MediaFunction"}

func run(o options) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inproc := functions
	if o.split {
		inproc = []string{}
		// The stand-ins alone: their heap (every item, message and event
		// the run stores) grows with the run, and each collection of it
		// slows the Graph simulator's requests, which then arrive at its
		// throughput window together (130429, as Meta would answer a
		// burst the sender never sent). As bench-sender runs them.
		debug.SetGCPercent(o.gogc)
	}
	h, err := connector.Start(ctx, connector.Options{
		AWSAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0", GraphAddr: "127.0.0.1:0", SinkAddr: "127.0.0.1:0",
		Tenants: []connector.Tenant{
			{ID: tenantA, PhoneNumberID: numberA, WABAID: wabaA, AccessToken: "token-a", Throughput: o.limit},
			{ID: tenantB, PhoneNumberID: numberB, WABAID: wabaB, AccessToken: "token-b", Throughput: 80},
		},
		Pollers: o.pollers,
		Poll:    inproc,
		Log:     io.Discard, LogLevel: slog.LevelError,
	})
	if err != nil {
		return err
	}
	defer h.Close()
	// Meta's status webhooks are off: the benchmark measures the
	// campaign's path to Meta, not the status path's share of 2 cores.
	_ = h.Sim.SetStatusConfig(graphsim.StatusConfig{Disabled: true})
	tier := "TIER_UNLIMITED"
	if o.tier > 0 {
		tier = tierName(o.tier)
	}
	h.Sim.SetNumberStatus(numberA, func(st *graphsim.NumberStatus) { st.MessagingLimitTier = tier })

	statePath := fmt.Sprintf("%s/bench-campaign-%d.json", os.TempDir(), os.Getpid())
	if err := h.WriteState(statePath); err != nil {
		return err
	}
	defer os.Remove(statePath)
	var fnProcs []*exec.Cmd
	if o.split {
		for _, id := range functions {
			cmd, err := startRole(statePath, "-role", "function", "-fn", id, "-pollers", strconv.Itoa(o.pollers))
			if err != nil {
				return err
			}
			fnProcs = append(fnProcs, cmd)
		}
		defer func() {
			for _, c := range fnProcs {
				_ = c.Process.Signal(syscall.SIGTERM)
				_ = c.Wait()
			}
		}()
	}
	cfg := awsemu.EndpointConfig(h.AWSURL)
	env := h.Env["CampaignFunction"]
	ddb := dynamodb.NewFromConfig(cfg)

	// The template in A's catalog, as a sync would put it.
	for _, t := range graphsim.SampleTemplates(wabaA) {
		if t.Name != tplName || t.Language != tplLang {
			continue
		}
		comps, _ := json.Marshal(t.Components)
		if err := (&catalog.Store{API: ddb, Table: env["TEMPLATES_TABLE"]}).Put(ctx, catalog.Template{TenantID: tenantA, WABAID: wabaA,
			Name: t.Name, Language: t.Language, Status: t.Status, Category: t.Category, ParameterFormat: t.ParameterFormat, Components: comps}); err != nil {
			return err
		}
	}

	// The audience, and the campaign as POST …/campaigns stores it.
	var b bytes.Buffer
	b.WriteString("to,header.1,body.1,body.2,body.3\n")
	for i := 0; i < o.rows; i++ {
		fmt.Fprintf(&b, "+55119%08d,Black Friday,%d de dezembro,BF%05d,%d%%\n", i, 1+i%28, i%100000, 10+i%40)
	}
	key := "tenants/" + tenantA + "/campaigns/bench.csv"
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(env["DATA_BUCKET"]), Key: aws.String(key), Body: bytes.NewReader(b.Bytes())}); err != nil {
		return err
	}
	logf("audience %d rows, %.1f MB; L=%d/s tier=%s pollers=%d", o.rows, float64(b.Len())/1e6, o.limit, tier, o.pollers)
	b = bytes.Buffer{}
	store := &campaign.Store{API: ddb, Table: env["CAMPAIGNS_TABLE"]}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	c := campaign.Campaign{ID: campaign.NewID(tenantA, "bench"), TenantID: tenantA, Name: "bench", PhoneNumberID: numberA,
		Template: campaign.Template{Name: tplName, Language: tplLang}, Audience: "s3://" + env["DATA_BUCKET"] + "/" + key,
		State: campaign.StateRunning, FailedByReason: map[string]int64{}, Pricing: map[string]int64{},
		Report: "s3://" + env["DATA_BUCKET"] + "/" + campaign.ReportPrefix(tenantA, campaign.NewID(tenantA, "bench")), CreatedAt: now, UpdatedAt: now}
	if _, err := store.Create(ctx, c); err != nil {
		return err
	}
	sqsc := sqs.NewFromConfig(cfg)
	if err := (&campaign.Control{API: sqsc, QueueURL: env["CAMPAIGN_QUEUE_URL"]}).Run(ctx, tenantA, c.ID, 0); err != nil {
		return err
	}

	// The runner, in processes of its own.
	var rss peak
	first, err := startRunner(statePath, &rss)
	if err != nil {
		return err
	}
	start := time.Now()

	// B's probes, every o.every, until A's campaign is done.
	type probe struct {
		to string
		at time.Time
	}
	var mu sync.Mutex
	var probes []probe
	stopProbes := make(chan struct{})
	var pwg sync.WaitGroup
	pwg.Add(1)
	go func() {
		defer pwg.Done()
		pub := queue.Publisher{API: sqsc}
		for p := 0; ; p++ {
			select {
			case <-stopProbes:
				return
			case <-time.After(time.Until(start.Add(time.Duration(p) * o.every))):
			}
			to := fmt.Sprintf("+55219%08d", p)
			j := outbound.Job{JobID: fmt.Sprintf("probe-%d", p), TenantID: tenantB, PhoneNumberID: numberB, To: to, Type: outbound.TypeTemplate,
				Template: &outbound.Template{Name: "hello_world", Language: outbound.TemplateLanguage{Code: "en_US"}}}
			body, _ := json.Marshal(j)
			at := time.Now()
			if err := pub.Publish(ctx, env["OUTBOUND_QUEUE_URL"], queue.Message{Body: string(body), GroupID: j.GroupID(), DedupID: j.JobID}); err != nil {
				logf("probe %d: %v", p, err)
				continue
			}
			mu.Lock()
			probes = append(probes, probe{to, at})
			mu.Unlock()
		}
	}()

	// Stop the first runner's invocation half way; wait for the end.
	current := first
	stopped := o.tier > 0 || o.stopAt <= 0
	var lastCount, stable int
	var stoppedAt time.Time
	var rowsAtStop int64
	resumed := false
	count := acceptedCount{sim: h.Sim, number: numberA}
	cpuAt, cpuConn, cpuFns, cpuRunner := time.Now(), cpuSeconds(os.Getpid()), 0.0, map[int]float64{}
	// Until the campaign is done, or nothing was accepted for 2 minutes.
	for stable < 240 {
		time.Sleep(500 * time.Millisecond)
		n := count.n()
		cur, _ := store.Get(ctx, tenantA, c.ID)
		if !stopped && float64(n) >= o.stopAt*float64(o.rows) {
			stopped = true
			stoppedAt, rowsAtStop = time.Now(), cur.Counts.Rows
			if o.kill {
				logf("%5.1fs accepted=%d rows=%d: killing the runner's process (pid %d)", time.Since(start).Seconds(), n, cur.Counts.Rows, current.Process.Pid)
				_ = current.Process.Kill()
			} else {
				logf("%5.1fs accepted=%d rows=%d: stopping the runner's invocation (pid %d)", time.Since(start).Seconds(), n, cur.Counts.Rows, current.Process.Pid)
				_ = current.Process.Signal(syscall.SIGUSR1)
			}
			_ = current.Wait()
			rss.sample(current.Process.Pid) // gone: the sampler kept its peak
			if current, err = startRunner(statePath, &rss); err != nil {
				return err
			}
		}
		if now := time.Now(); now.Sub(cpuAt) >= time.Minute {
			c, r, f := cpuSeconds(os.Getpid()), cpuSeconds(current.Process.Pid), 0.0
			for _, p := range fnProcs {
				f += cpuSeconds(p.Process.Pid)
			}
			st := h.Sim.MessageStats()
			logf("%5.1fs accepted=%d e130429=%d e131056=%d; cpu (user+sys) in the last %.0fs: connector %.1fs, functions %.1fs, runner %.1fs (pid %d, %.1fs in all)",
				time.Since(start).Seconds(), n, st.Throughput, st.Pair, now.Sub(cpuAt).Seconds(), c-cpuConn, f-cpuFns, r-cpuRunner[current.Process.Pid], current.Process.Pid, r)
			cpuAt, cpuConn, cpuFns, cpuRunner[current.Process.Pid] = now, c, f, r
		}
		if !stoppedAt.IsZero() && !resumed && cur.Counts.Rows > rowsAtStop {
			resumed = true
			logf("%5.1fs the campaign's rows move again, %.1fs after the stop", time.Since(start).Seconds(), time.Since(stoppedAt).Seconds())
		}
		if n != lastCount {
			logf("%5.1fs accepted=%d state=%s rows=%d queued=%d", time.Since(start).Seconds(), n, cur.State, cur.Counts.Rows, cur.Counts.Queued)
			lastCount, stable = n, 0
		} else {
			stable++
		}
		if cur.State == campaign.StateCompleted && n >= int(cur.Counts.Queued) {
			break
		}
		if o.tier > 0 && cur.State == campaign.StateWaitingForCapacity && stable >= 10 {
			break
		}
	}
	close(stopProbes)
	pwg.Wait()
	time.Sleep(2 * o.every) // the last probe
	_ = current.Process.Signal(syscall.SIGTERM)
	_ = current.Wait()
	cur, err := store.Get(ctx, tenantA, c.ID)
	if err != nil {
		return err
	}

	// Judge from what the simulator accepted.
	perTo := map[string]int{}
	var times []time.Time
	acceptedAt := map[string]time.Time{}
	for _, a := range h.Sim.Messages() {
		switch a.PhoneNumberID {
		case numberA:
			perTo[a.To]++
			if perTo[a.To] == 1 {
				times = append(times, a.At)
			}
		case numberB:
			if _, ok := acceptedAt[a.To]; !ok {
				acceptedAt[a.To] = a.At
			}
		}
	}
	dups := 0
	for _, n := range perTo {
		if n > 1 {
			dups++
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	ratio := 0.0
	if n := len(times); n > 1 {
		ratio = float64(n-1) / times[n-1].Sub(times[0]).Seconds() / float64(o.limit)
	}
	var waits []float64
	unsent := 0
	for _, p := range probes {
		if at, ok := acceptedAt[p.to]; ok {
			waits = append(waits, at.Sub(p.at).Seconds())
		} else {
			unsent++
			waits = append(waits, time.Since(p.at).Seconds())
		}
	}
	sort.Float64s(waits)
	st := h.Sim.MessageStats()
	logf("campaign %s: state %s, counts %+v; %d probes (%d never sent), e130429=%d e131056=%d, wall %.1fs, load %s",
		c.ID, cur.State, cur.Counts, len(probes), unsent, st.Throughput, st.Pair, time.Since(start).Seconds(), loadavg())
	if o.tier > 0 {
		fmt.Printf("rows=%d tier=%d queued=%d accepted=%d duplicates=%d state=%s\n", o.rows, o.tier, cur.Counts.Queued, len(perTo), dups, cur.State)
		return nil
	}
	fmt.Printf("rows=%d accepted=%d duplicates=%d ratio=%.2f runner_peak_rss_mb=%.0f probe_wait_p99_s=%.2f\n",
		o.rows, len(perTo), dups, ratio, float64(rss.max())/1024, quantile(waits, 0.99))
	return nil
}

func tierName(n int) string {
	switch {
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("TIER_%dK", n/1000)
	default:
		return fmt.Sprintf("TIER_%d", n)
	}
}

// acceptedCount counts the recipients the simulator accepted a message to
// from one number, reading only what was accepted since its last call: a
// copy of every message twice a second, under the lock the simulator's
// sends take, grew with the run and slowed the sends it measures.
type acceptedCount struct {
	sim    *graphsim.Sim
	number string
	read   int
	seen   map[string]bool
}

func (c *acceptedCount) n() int {
	if c.seen == nil {
		c.seen = map[string]bool{}
	}
	for _, a := range c.sim.MessagesFrom(c.read) {
		c.read++
		if a.PhoneNumberID == c.number {
			c.seen[a.To] = true
		}
	}
	return len(c.seen)
}

// peak keeps the largest VmHWM (kB) seen of the runner processes.
type peak struct {
	mu sync.Mutex
	kb int64
}

func (p *peak) sample(pid int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			p.mu.Lock()
			p.kb = max(p.kb, kb)
			p.mu.Unlock()
		}
	}
}

func (p *peak) max() int64 { p.mu.Lock(); defer p.mu.Unlock(); return p.kb }

// runnerDebug logs the runner's debug lines (its checkpoints' figures).
var runnerDebug bool

// startRunner starts a runner process and samples its peak RSS until it
// exits.
func startRunner(statePath string, rss *peak) (*exec.Cmd, error) {
	cmd, err := startRole(statePath, "-role", "runner", fmt.Sprintf("-runner-debug=%t", runnerDebug))
	if err != nil {
		return nil, err
	}
	pid := cmd.Process.Pid
	go func() {
		for {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
				return
			}
			rss.sample(pid)
			time.Sleep(100 * time.Millisecond)
		}
	}()
	return cmd, nil
}

// startRole starts this program in a process of its own with args.
func startRole(statePath string, args ...string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, append(args, "-state", statePath)...)
	cmd.Stderr = os.Stderr
	// GODEBUG (gctrace, …) is for this process's stand-ins only.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GODEBUG=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", strings.Join(args, " "), err)
	}
	return cmd, nil
}

// function is a -role function process: one queue-driven function with
// its event source mappings (connector.RunFunction, as make local-fn runs
// it) until SIGTERM.
func function(statePath, id string, pollers int) error {
	st, err := connector.ReadState(statePath)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	err = connector.RunFunction(ctx, st, id, connector.FunctionOptions{Pollers: pollers, Log: io.Discard, LogLevel: slog.LevelError})
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// runner is the -role runner process: CampaignFunction as make local-fn
// runs it (its Setup with the template's environment, the campaign
// queue polled, a batch per invocation with the function's 900 s
// timeout). SIGUSR1 stops the invocation in flight (its context
// cancelled; the runner backs its command off) and exits; SIGTERM exits
// between invocations.
func runner(statePath string) error {
	st, err := connector.ReadState(statePath)
	if err != nil {
		return err
	}
	fs := st.Functions["CampaignFunction"]
	cfg := awsemu.EndpointConfig(st.AWSURL)
	ctx := context.Background()
	r, err := campaign.Setup(ctx, func(k string) string {
		// The runner's back-pressure and retry backoff (how soon the
		// stopped run's command comes back) from the environment, to
		// compare settings.
		if v := os.Getenv(k); (k == "CAMPAIGN_AHEAD" || k == queue.EnvBackoff) && v != "" {
			return v
		}
		return fs.Env[k]
	}, cfg)
	if err != nil {
		return err
	}
	level := slog.LevelWarn
	if runnerDebug {
		level = slog.LevelDebug
	}
	r.Log = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	sqsc := sqs.NewFromConfig(cfg)
	url := fs.Sources[0].QueueURL
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGTERM)
	var invocation context.CancelFunc = func() {}
	var mu sync.Mutex
	stopping, quitting := false, false
	go func() {
		for s := range sigs {
			mu.Lock()
			if s == syscall.SIGUSR1 {
				stopping = true
				invocation()
			} else {
				quitting = true
			}
			mu.Unlock()
		}
	}()
	done := func() bool { mu.Lock(); defer mu.Unlock(); return stopping || quitting }
	for !done() {
		out, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 1, WaitTimeSeconds: 1,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
		if err != nil {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		for _, m := range out.Messages {
			ev := events.SQSEvent{Records: []events.SQSMessage{{MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
				Body: aws.ToString(m.Body), Attributes: m.Attributes, EventSource: "aws:sqs", EventSourceARN: fs.Sources[0].QueueARN}}}
			ictx, cancel := context.WithTimeout(ctx, time.Duration(fs.TimeoutS)*time.Second)
			mu.Lock()
			invocation = cancel
			mu.Unlock()
			resp, _ := r.Handle(ictx, ev)
			cancel()
			if len(resp.BatchItemFailures) == 0 {
				_, _ = sqsc.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle})
				continue
			}
			if done() {
				fmt.Fprintln(os.Stderr, "bench-campaign runner: invocation stopped; its command comes back after the runner's retry backoff")
			}
		}
	}
	return nil
}

// cpuSeconds is a process's user and system CPU time so far (0 when it
// is gone).
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses: utime and
	// stime are the 12th and 13th, in clock ticks (100 a second).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / 100
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// quantile is the q-quantile of sorted xs (nearest rank).
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	i := int(float64(len(xs))*q+0.999999) - 1
	return xs[min(max(i, 0), len(xs)-1)]
}
