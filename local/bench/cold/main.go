// Command cold measures cold starts (make bench-cold): the time from the
// first invocation to its response of each function's real bootstrap under
// the Lambda Runtime Interface Emulator, which starts the bootstrap on that
// first invocation, so the figure holds the process start, the function's
// init and its first event. Each bootstrap is built as make build builds it
// (-tags lambda.norpc -trimpath -ldflags='-s -w', static, provided.al2023
// style), for linux/amd64 (the host's architecture, so it runs here).
//
// Each round starts the local connector's AWS emulator, Graph API simulator
// and core sink afresh (demo tenant seeded, no pollers) and invokes, in a
// rotating order, a plain Go hello world, an SDK-only hello world
// (config.LoadDefaultConfig and four clients, local/bench/cold/sdkhello)
// and every function with a real sample event from events/ (media: a job
// for a document the simulator holds), each in a new emulator process. It
// prints each target's median, min and max over the rounds, then the
// medians in ms, and last the ratios of each function's median to the SDK
// hello world's:
//
//	webhook=1.05 inbound=1.10 bridge=1.02 sender=1.20 media=1.08 status=1.07 api=1.12 templates=1.15
//
// Every response is checked: a function error or a failed SQS record
// stops the run, so a figure is never that of a failed start.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tucanlink/wacloud/local/awscount"
	"github.com/tucanlink/wacloud/local/connector"
	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/local/rie"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/queue"
)

// target is a bootstrap and the event of its first invocation.
type target struct {
	name string
	pkg  string
	// id is the function's logical id, whose environment it gets (the
	// hello worlds get the webhook's).
	id    string
	event func(h *connector.Handle) ([]byte, error)
}

func sample(path string) func(*connector.Handle) ([]byte, error) {
	return func(*connector.Handle) ([]byte, error) { return os.ReadFile(filepath.Join("events", path)) }
}

var targets = []target{
	{"hello", "./local/bench/cold/hello", "WebhookFunction", sample("webhook/post_text.json")},
	{"sdk_hello", "./local/bench/cold/sdkhello", "WebhookFunction", sample("webhook/post_text.json")},
	{"webhook", "./functions/webhook", "WebhookFunction", sample("webhook/post_text.json")},
	{"inbound", "./functions/inbound", "InboundFunction", sample("inbound/text.json")},
	{"bridge", "./functions/bridge", "BridgeFunction", sample("bridge/message_received_text.json")},
	{"sender", "./functions/sender", "SenderFunction", sample("sender/text.json")},
	{"media", "./functions/media", "MediaFunction", mediaEvent},
	{"status", "./functions/status", "StatusFunction", sample("status/delivered.json")},
	{"api", "./functions/api", "ApiFunction", sample("api/send_message.json")},
	{"templates", "./functions/templates", "TemplatesFunction", sample("templates/scheduled.json")},
}

func main() {
	rounds := flag.Int("n", 5, "rounds (cold starts of each target)")
	only := flag.String("only", "", "comma-separated targets to measure besides the two hello worlds (default all)")
	rieFlag := flag.String("rie", os.Getenv("AWS_LAMBDA_RIE"), "aws-lambda-rie binary (default: PATH, GOPATH/bin, or installed with go install)")
	verbose := flag.Bool("v", false, "print each response and the functions' logs")
	flag.Parse()
	if err := run(*rounds, *only, *rieFlag, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "bench-cold:", err)
		os.Exit(1)
	}
}

func run(rounds int, only, rieFlag string, verbose bool) error {
	ctx := context.Background()
	if _, err := os.Stat("template.yaml"); err != nil {
		return fmt.Errorf("run from the repository root: %w", err)
	}
	chosen := targets
	if only != "" {
		want := strings.Split(only, ",")
		chosen = slices.DeleteFunc(slices.Clone(targets), func(t target) bool {
			return t.name != "hello" && t.name != "sdk_hello" && !slices.Contains(want, t.name)
		})
	}
	work, err := os.MkdirTemp("", "wacloud-bench-cold-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	rieBin, err := rie.Find(ctx, rieFlag, os.Stderr)
	if err != nil {
		return err
	}
	bins := map[string]string{}
	for _, t := range chosen {
		out := filepath.Join(work, t.name, "bootstrap")
		if err := rie.Build(ctx, ".", t.pkg, "amd64", out, true, os.Stderr); err != nil {
			return err
		}
		st, _ := os.Stat(out)
		fmt.Printf("built %-10s %5.1f MB  %s\n", t.name, float64(st.Size())/(1<<20), t.pkg)
		bins[t.name] = out
	}
	tmpl, err := stack.Load("template.yaml")
	if err != nil {
		return err
	}

	times := map[string][]time.Duration{}
	inits, invokes := map[string][]time.Duration{}, map[string][]time.Duration{}
	calls := map[string]int{} // AWS requests of the first event
	for r := range rounds {
		h, err := connector.Start(ctx, connector.Options{
			AWSAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0", GraphAddr: "127.0.0.1:0", SinkAddr: "127.0.0.1:0",
			Template: "template.yaml", Functions: map[string]connector.Setup{}, Log: io.Discard,
		})
		if err != nil {
			return fmt.Errorf("start the local connector: %w", err)
		}
		// Every AWS request the functions make is counted on its way.
		front, err := awscount.Start(h.AWSURL)
		if err != nil {
			h.Close()
			return err
		}
		// Rotate the order, so no target always runs first or last.
		order := append(slices.Clone(chosen[r%len(chosen):]), chosen[:r%len(chosen)]...)
		for _, t := range order {
			front.Reset()
			d, ph, err := once(ctx, h, front.URL, tmpl, rieBin, bins[t.name], t, verbose)
			if err != nil {
				front.Close()
				h.Close()
				return fmt.Errorf("round %d, %s: %w", r+1, t.name, err)
			}
			times[t.name] = append(times[t.name], d)
			inits[t.name] = append(inits[t.name], ph.init)
			invokes[t.name] = append(invokes[t.name], ph.invoke)
			calls[t.name] = front.Count("")
			if verbose {
				c, names := front.Counts()
				for _, n := range names {
					fmt.Printf("  %s %s %d\n", t.name, n, c[n])
				}
			}
		}
		front.Close()
		h.Close()
		fmt.Printf("round %d/%d done\n", r+1, rounds)
	}

	sdk := median(times["sdk_hello"])
	fmt.Printf("%-10s %9s %8s %8s %12s %8s %10s %9s\n", "target", "median_ms", "min_ms", "max_ms", "vs_sdk_hello", "init_ms", "invoke_ms", "aws_calls")
	var ms, ratios []string
	for _, t := range chosen {
		d := times[t.name]
		m := median(d)
		fmt.Printf("%-10s %9.1f %8.1f %8.1f %12.2f %8.1f %10.1f %9d\n", t.name, msOf(m), msOf(slices.Min(d)), msOf(slices.Max(d)), float64(m)/float64(sdk),
			msOf(median(inits[t.name])), msOf(median(invokes[t.name])), calls[t.name])
		ms = append(ms, fmt.Sprintf("%s_ms=%.1f", t.name, msOf(m)))
		if t.name != "hello" && t.name != "sdk_hello" {
			ratios = append(ratios, fmt.Sprintf("%s=%.2f", t.name, float64(m)/float64(sdk)))
		}
	}
	sdkInit := median(inits["sdk_hello"])
	var initRatios []string
	for _, t := range chosen {
		if t.name != "hello" && t.name != "sdk_hello" {
			initRatios = append(initRatios, fmt.Sprintf("%s=%.2f", t.name, float64(median(inits[t.name]))/float64(sdkInit)))
		}
	}
	fmt.Println("init phase vs sdk_hello's: " + strings.Join(initRatios, " "))
	fmt.Println(strings.Join(ms, " "))
	fmt.Println(strings.Join(ratios, " "))
	return nil
}

// phases are the emulator's own figures of a cold start: the init (from
// the bootstrap's start to its first request for an event) and the
// first event's handling.
type phases struct{ init, invoke time.Duration }

var (
	initRE   = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)
	invokeRE = regexp.MustCompile(`INVOKE RTDONE\(status: [a-z]+, produced bytes: [0-9]+, duration: ([0-9.]+)ms\)`)
)

func phasesOf(logs []byte) phases {
	ms := func(re *regexp.Regexp) time.Duration {
		m := re.FindSubmatch(logs)
		if m == nil {
			return 0
		}
		f, _ := strconv.ParseFloat(string(m[1]), 64)
		return time.Duration(f * float64(time.Millisecond))
	}
	return phases{init: ms(initRE), invoke: ms(invokeRE)}
}

// once cold-starts t's bootstrap and checks its first response.
func once(ctx context.Context, h *connector.Handle, awsURL string, tmpl *stack.Template, rieBin, bootstrap string, t target, verbose bool) (time.Duration, phases, error) {
	env, err := rie.FunctionEnv(tmpl, h.Stack, t.id, awsURL)
	if err != nil {
		return 0, phases{}, err
	}
	// The Graph API simulator and the core sink of this round.
	env["GRAPH_API_BASE_URL"] = h.GraphURL
	if _, ok := env["CORE_URL"]; ok {
		env["CORE_URL"] = h.SinkURL
	}
	event, err := t.event(h)
	if err != nil {
		return 0, phases{}, err
	}
	var logs bytes.Buffer
	res, err := rie.Invoke(ctx, rieBin, bootstrap, filepath.Dir(bootstrap), env, event, &logs)
	if err != nil {
		return 0, phases{}, fmt.Errorf("%w\n%s", err, logs.String())
	}
	if problem := failed(res.Body); problem != "" {
		return 0, phases{}, fmt.Errorf("response %s: %s\n%s", problem, res.Body, logs.String())
	}
	if verbose {
		fmt.Printf("%s: %.1f ms: %s\n%s", t.name, msOf(res.FirstResponse), bytes.TrimSpace(res.Body), logs.String())
	}
	return res.FirstResponse, phasesOf(logs.Bytes()), nil
}

// failed says what is wrong with a response: a function error, a failed
// SQS record, or an HTTP answer of 5xx.
func failed(body []byte) string {
	var r struct {
		ErrorMessage string `json:"errorMessage"`
		Failures     []any  `json:"batchItemFailures"`
		StatusCode   int    `json:"statusCode"`
	}
	if json.Unmarshal(body, &r) != nil {
		return ""
	}
	switch {
	case r.ErrorMessage != "":
		return "is a function error"
	case len(r.Failures) > 0:
		return "has failed records"
	case r.StatusCode >= 500:
		return "is a server error"
	}
	return ""
}

// mediaEvent is an SQS event with a media job for a document the
// simulator holds.
func mediaEvent(h *connector.Handle) ([]byte, error) {
	o, err := h.Sim.CreateMedia(graphsim.MediaSpec{PhoneNumberID: connector.DemoPhoneNumberID, MimeType: "application/pdf",
		Filename: "cold.pdf", Size: 64 << 10})
	if err != nil {
		return nil, err
	}
	job, err := json.Marshal(queue.MediaJob{TenantID: connector.DemoTenantID, PhoneNumberID: connector.DemoPhoneNumberID,
		WABAID: connector.DemoWABAID, MessageID: "wamid.COLD" + o.ID, MediaID: o.ID, Kind: "document", MimeType: o.MimeType,
		SHA256: o.SHA256Base64, Filename: o.Filename, ContactWaID: "5511999990000", OccurredAt: time.Now().UTC().Format(time.RFC3339)})
	if err != nil {
		return nil, err
	}
	return json.Marshal(events.SQSEvent{Records: []events.SQSMessage{{
		MessageId: "c01d0000-0000-4000-8000-000000000001", ReceiptHandle: "cold", Body: string(job),
		Attributes:     map[string]string{"ApproximateReceiveCount": "1", "SentTimestamp": fmt.Sprint(time.Now().UnixMilli())},
		EventSource:    "aws:sqs",
		EventSourceARN: "arn:aws:sqs:us-east-1:000000000000:wacloud-local-MediaQueue",
		AWSRegion:      "us-east-1",
	}}})
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
